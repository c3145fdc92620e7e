"""The audit's outputs, written from the stage's results in patient order (the same whoever coded them):
findings.ndjson, errors.ndjson, worklist.csv (exceptions, most valuable first), summary.json, report.html."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import orjson

from .billing import MATCH, STATUSES
from .report import write_report
from .staging import Stage

WORKLIST_COLUMNS = ("value", "status", "problems", "patient", "encounter", "subject", "date", "family", "rule",
                    "suggested", "billed", "gaps", "payer", "evidence")
REPORT_ROWS = 2000  # exceptions shown in report.html; worklist.csv has them all


def line_labels(lines: list[dict]) -> str:
    return " ".join("-".join([line["code"], *line.get("modifiers", [])]) + (f" x{line['units']}"
                    if line.get("units", 1) != 1 else "") for line in lines)


class Totals:
    """Counters for summary.json and the report's charts (small: one entry per status, rule, gap, month)."""

    def __init__(self, with_money: bool):
        self.with_money = with_money
        self.patients = 0
        self.encounters = 0
        self.findings = 0
        self.by_status: Counter = Counter()
        self.by_rule: Counter = Counter()
        self.by_gap: Counter = Counter()
        self.by_billing_gap: Counter = Counter()
        self.by_payer: dict[str, Counter] = {}
        self.by_family: dict[str, Counter] = {}
        self.by_month: dict[str, Counter] = {}
        self.money: Counter = Counter()

    def add(self, record: dict) -> None:
        status = record["status"]
        self.findings += 1
        self.by_status[status] += 1
        self.by_rule[record["rule"] or "(no coded subject)"] += 1
        self.by_gap.update(record["gaps"])
        self.by_billing_gap.update(record["billingGaps"])
        self.by_payer.setdefault(record["payer"] or "(none)", Counter())[status] += 1
        self.by_family.setdefault(record["family"] or "(unknown)", Counter())[status] += 1
        month = (record["date"] or "")[:7] or "(no date)"
        self.by_month.setdefault(month, Counter())[status] += 1
        if record["value"] is not None:
            self.money[status] += record["value"]

    def summary(self, inputs: dict) -> dict:
        ordered = {s: self.by_status.get(s, 0) for s in STATUSES}
        document = {
            "inputs": inputs,
            "patients": self.patients,
            "encounters": self.encounters,
            "findings": self.findings,
            "exceptions": self.findings - self.by_status.get(MATCH, 0),
            "byStatus": ordered,
            "byRule": dict(self.by_rule.most_common()),
            "byGap": dict(self.by_gap.most_common()),
            "byBillingGap": dict(self.by_billing_gap.most_common()),
            "byPayer": {p: dict(c) for p, c in sorted(self.by_payer.items())},
            "byFamily": {f: dict(c) for f, c in sorted(self.by_family.items())},
            "byMonth": {m: dict(c) for m, c in sorted(self.by_month.items())},
        }
        if self.with_money:
            document["moneyAtStake"] = {
                "total": round(sum(v for s, v in self.money.items() if s != MATCH), 2),
                "byStatus": {s: round(self.money.get(s, 0.0), 2) for s in STATUSES if s != MATCH},
            }
        return document


def write_outputs(stage: Stage, out: Path, with_money: bool) -> dict:
    totals = Totals(with_money)
    db = stage.db
    db.execute("DROP TABLE IF EXISTS exceptions")
    db.execute("CREATE TABLE exceptions (value REAL, rank INTEGER, seq INTEGER, record BLOB)")
    rank = {status: i for i, status in enumerate(STATUSES)}
    seq = 0
    with open(out / "findings.ndjson", "wb") as findings:
        batch = []
        for _patient, encounters, body in stage.results():
            totals.patients += 1
            totals.encounters += encounters
            findings.write(body)
            for line in body.splitlines():
                record = orjson.loads(line)
                totals.add(record)
                if record["status"] != MATCH:
                    seq += 1
                    batch.append((record["value"], rank[record["status"]], seq, line))
            if len(batch) >= 5000:
                _insert(db, batch)
                batch = []
        _insert(db, batch)
    with open(out / "errors.ndjson", "wb") as errors:
        for name, line, error in stage.errors():
            errors.write(orjson.dumps({"file": name, "line": line, "error": error}) + b"\n")
    top = _write_worklist(db, out / "worklist.csv")
    summary = totals.summary(stage.input_counts())
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_report(out / "report.html", summary, top, with_money)
    return summary


def _insert(db, batch: list) -> None:
    db.execute("BEGIN")
    db.executemany("INSERT INTO exceptions VALUES (?, ?, ?, ?)", batch)
    db.execute("COMMIT")


def _write_worklist(db, path: Path) -> list[dict]:
    """All exceptions, most money first, then billing problems before gaps, then in patient order (sorted by
    SQLite on disk, not in memory). Returns the first REPORT_ROWS for the report."""
    top: list[dict] = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(WORKLIST_COLUMNS)
        for (body,) in db.execute("SELECT record FROM exceptions ORDER BY coalesce(value, -1) DESC, rank, seq"):
            record = orjson.loads(body)
            writer.writerow([
                "" if record["value"] is None else f"{record['value']:.2f}", record["status"],
                " ".join(record["problems"]), record["patient"], record["encounter"] or "", record["subject"],
                record["date"] or "", record["family"] or "", record["rule"] or "", line_labels(record["suggested"]),
                line_labels(record["billed"]), " ".join(record["gaps"]), record["payer"] or "",
                " ".join(f"{k}@{v}" for k, v in record["evidence"].get("resources", {}).items()),
            ])
            if len(top) < REPORT_ROWS:
                top.append(record)
    db.execute("DROP TABLE exceptions")
    return top
