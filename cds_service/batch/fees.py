"""Fee amounts from a subset of a CMS Physician Fee Schedule CSV (`--fee-schedule FILE`).

Two layouts are read, found by their header row (CMS files put title lines above it):
- the PFS Look-up Tool export: HCPCS, MOD (or MODIFIER), NON-FACILITY PRICE, FACILITY PRICE;
- the PPRRVU relative value file: HCPCS, MOD, NON-FAC TOTAL, FACILITY TOTAL, CONV FACTOR (amount = total
  RVUs x conversion factor).
Modifier 50 pays 150% of the unilateral amount (bilateral indicator 1); a row for the code with the modifier
(26, TC) is used when the file has one.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path


class FeeScheduleError(ValueError):
    pass


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _amount(text: str) -> float | None:
    text = text.strip().replace("$", "").replace(",", "")
    try:
        return float(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class FeeSchedule:
    # (code, modifier or "") -> (non-facility, facility)
    amounts: dict[tuple[str, str], tuple[float, float]]

    def amount(self, code: str, modifiers: list[str], units: int, facility: bool) -> float | None:
        row = None
        for modifier in modifiers:
            row = self.amounts.get((code, modifier))
            if row:
                break
        base = row or self.amounts.get((code, ""))
        if base is None:
            return None
        value = base[1] if facility else base[0]
        if "50" in modifiers and row is None:
            value *= 1.5
        return round(value * units, 2)

    @classmethod
    def read(cls, path: Path) -> FeeSchedule:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
        for at, header in enumerate(rows):
            names = [_norm(h) for h in header]
            if any(n in ("hcpcs", "hcpcscd", "hcpcscode") for n in names):
                return cls(_parse(path, names, rows[at + 1:]))
        raise FeeScheduleError(f"{path}: no header row with an HCPCS column")


def _column(names: list[str], *candidates: str) -> int | None:
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    return None


def _parse(path: Path, names: list[str], rows: list[list[str]]) -> dict[tuple[str, str], tuple[float, float]]:
    code_at = _column(names, "hcpcs", "hcpcscd", "hcpcscode")
    mod_at = _column(names, "mod", "modifier")
    nonfac_at = _column(names, "nonfacilityprice", "nonfacilityamount", "nonfacprice", "nonfacilityfee")
    fac_at = _column(names, "facilityprice", "facilityamount", "facprice", "facilityfee")
    factor_at = None
    if nonfac_at is None or fac_at is None:
        nonfac_at = _column(names, "nonfactotal", "nonfacilitytotal")
        fac_at = _column(names, "facilitytotal", "factotal")
        factor_at = _column(names, "convfactor", "conversionfactor")
        if nonfac_at is None or fac_at is None or factor_at is None:
            raise FeeScheduleError(f"{path}: needs NON-FACILITY PRICE and FACILITY PRICE columns, or NON-FAC "
                                   f"TOTAL, FACILITY TOTAL and CONV FACTOR")
    amounts = {}
    for row in rows:
        if len(row) <= max(i for i in (code_at, mod_at, nonfac_at, fac_at, factor_at) if i is not None):
            continue
        code = row[code_at].strip().upper()
        nonfac, fac = _amount(row[nonfac_at]), _amount(row[fac_at])
        if not code or nonfac is None or fac is None:
            continue
        if factor_at is not None:
            factor = _amount(row[factor_at]) or 0.0
            nonfac, fac = nonfac * factor, fac * factor
        modifier = row[mod_at].strip().upper() if mod_at is not None else ""
        amounts[(code, modifier)] = (round(nonfac, 2), round(fac, 2))
    if not amounts:
        raise FeeScheduleError(f"{path}: no rows with a code and amounts")
    return amounts
