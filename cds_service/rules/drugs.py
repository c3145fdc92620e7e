"""Drug supply lines: the injected drug and its dose (MedicationAdministration first, then the subject's own
text) become HCPCS lines whose units come from the dose, with the fewest units of the pack's codes.
"""

from __future__ import annotations

import math
import re

from ..evidence.facts import ActFacts, Evidence
from ..text.checkboxes import unbox
from ..text.quantities import words_value
from .model import BILATERAL, DrugDose, Finding
from .packs import DrugCode, DrugSpec, DrugTable, Patterns
from .reading import NoteReadings
from .sites import names_site_of, sentences

# Dose units turned into milligrams; mL only through the drug's own concentration (mg_per_ml).
MG_FACTOR = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "g": 1000.0, "gm": 1000.0, "gram": 1000.0,
             "grams": 1000.0, "mcg": 0.001, "ug": 0.001, "µg": 0.001}
VOLUME_UNITS = {"ml", "cc", "cm3", "milliliter", "milliliters", "millilitre", "millilitres"}
# A dose needing more units than this is not a single injection: no line, the dose gap asks to check it.
MAX_UNITS = 100
# Characters after a dose where the words saying it was given on each side must start.
PER_SIDE_REACH = 40


def to_mg(drug: DrugSpec, value: float, unit: str) -> float | None:
    unit = unit.strip().lower()
    if unit in MG_FACTOR:
        return value * MG_FACTOR[unit]
    if unit in VOLUME_UNITS and drug.mg_per_ml:
        return value * drug.mg_per_ml
    return None


def fewest_units(codes: tuple[DrugCode, ...], mg: float) -> list[tuple[str, int]]:
    """Units per code covering `mg` with the fewest units in total, then the least excess (partial units
    round up): 80 mg with 40 mg and 80 mg codes is one 80 mg unit, not two 40 mg units."""
    if mg <= 0:
        return []
    best: tuple[int, float, list[int]] | None = None

    def search(i: int, left: float, counts: list[int]) -> None:
        nonlocal best
        if i == len(codes) - 1:
            counts = [*counts, max(0, math.ceil(round(left / codes[i].mg_per_unit, 6)))]
            total = sum(counts)
            excess = sum(n * c.mg_per_unit for n, c in zip(counts, codes, strict=True)) - mg
            if total <= MAX_UNITS and (best is None or (total, excess) < best[:2]):
                best = (total, excess, counts)
            return
        most = math.ceil(round(left / codes[i].mg_per_unit, 6)) if left > 0 else 0
        for n in range(min(most, MAX_UNITS) + 1):
            search(i + 1, left - n * codes[i].mg_per_unit, [*counts, n])

    search(0, mg, [])
    if best is None:
        return []
    return [(c.code, n) for c, n in zip(codes, best[2], strict=True) if n]


def _number(text: str) -> float | None:
    """A dose value in digits ("40", "0,5") or words ("forty", "one point five")."""
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return words_value([w for w in re.split(r"[\s-]+", text.lower()) if w and w != "and"])


def _dose_in(drug: DrugSpec, text: str, per_side: Patterns | None = None) -> float | None | bool:
    """mg of `drug` stated in `text`; None when named without a usable dose; False when not named. With
    `per_side` (a bilateral act), a dose followed by those words ("into each side") is given twice."""
    if not drug.names.search(text):
        return False
    for pattern in drug.doses.compiled:
        for found in pattern.finditer(text):
            try:
                value = _number(found.group("value"))
            except IndexError:
                continue
            mg = to_mg(drug, value, found.group("unit")) if value is not None else None
            strength = found.groupdict().get("per_ml")  # "80 mg/mL, 1 mL": a volume of a stated strength
            if value is not None and strength and found.group("unit").lower() in VOLUME_UNITS:
                mg = value * float(strength.replace(",", "."))
            if mg is not None:
                after = text[found.end():found.end() + PER_SIDE_REACH]
                if per_side and any(p.match(after.lstrip()) for p in per_side.compiled):
                    mg *= 2
                return mg
    return None


def _outside(text: str, region: tuple[int, int] | None) -> list[str]:
    """The sentences of `text` outside `region` (all of them without one)."""
    if region is None:
        return sentences(text)
    return sentences(text[:region[0]]) + sentences(text[region[1]:])


def _from_administrations(table: DrugTable, act: ActFacts, evidence: Evidence, finding: Finding) -> dict:
    found: dict[str, DrugDose] = {}
    for given in evidence.medications_by_act.get(act.key, ()):
        drug = next((d for d in table.items if d.names.search(given.drug_text)), None)
        if drug is None:
            for label, names, why in table.not_billed:
                if names.search(given.drug_text):
                    finding.drug_notes.append(f"{label} ({given.key}): {why}")
            continue
        mg = to_mg(drug, given.dose_value, given.dose_unit) if given.dose_value is not None else None
        if mg is None:
            dose = _dose_in(drug, given.drug_text)
            mg = dose if isinstance(dose, float) else None
        previous = found.get(drug.id)
        if previous is not None and previous.mg is not None and mg is not None:
            previous.mg += mg
            previous.why += f", {given.key}"
        elif previous is None or previous.mg is None:
            found[drug.id] = DrugDose(drug.label, mg, given.key)
    return found


def drug_doses(table: DrugTable, act: ActFacts, evidence: Evidence, finding: Finding,
               readings: NoteReadings | None = None) -> None:
    """Fill finding.drugs (with their HCPCS units), drug_notes and drug_dose_missing."""
    found = _from_administrations(table, act, evidence, finding)
    texts = [(act.code_text, f"the code text of {act.key}", None)] if act.code_text else []
    texts.extend((unbox(note.text), note.source, note) for note in act.texts if not note.shared)
    # A note shared by several procedures: the stretch the text pipeline attributed to this one, and the other
    # sentences naming this subject's site ("40 mg into each" of them).
    regions = readings.reading(act, finding.pack).regions if readings is not None else {}
    for note in act.texts:
        if not note.shared:
            continue
        region = regions.get(note.source)
        if region is not None:
            texts.append((note.text[region[0]:region[1]], note.source, note))
        if finding.sites:
            texts.extend((sentence, note.source, note) for sentence in _outside(note.text, region)
                         if names_site_of(finding.pack, sentence, finding.sites))
    bilateral = finding.side == BILATERAL or any(c.side == BILATERAL for c in finding.sites)
    injected = False
    for text, source, note in texts:
        injected = injected or bool(table.injection_text.search(text))
        for drug in table.items:
            if drug.id in found and found[drug.id].mg is not None:
                continue
            # ConText: a drug the note names only as negated, planned or past was not given here.
            if note is not None and readings is not None and readings.only_unaffirmed(
                    note, finding.pack, "drug", drug.id, negation_near=True):
                continue
            dose = _dose_in(drug, text, table.per_side_text if bilateral else None)
            if dose is False:
                continue
            found[drug.id] = DrugDose(drug.label, dose if isinstance(dose, float) else None, source)
        for label, names, why in table.not_billed:
            note = f"{label}: {why}"
            if names.search(text) and not any(n.startswith(f"{label} ") or n == note for n in finding.drug_notes):
                finding.drug_notes.append(note)
    by_id = {d.id: d for d in table.items}
    for drug_id, dose in found.items():
        if dose.mg is not None:
            dose.codes = fewest_units(by_id[drug_id].codes, dose.mg)
    finding.drugs = list(found.values())
    billed = any(dose.codes for dose in finding.drugs)
    finding.drug_dose_missing = any(not dose.codes for dose in finding.drugs) or (injected and not billed)
