"""Coding one chunk of patients: run in a local process, or on a Dask worker, with the same result.

A chunk carries the patients' staged rows (so a remote worker needs no access to the stage) and returns,
per patient, the number of encounters seen and the findings as NDJSON bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from ..coding import CodingEngine
from ..config import Settings
from ..evidence.facts import Evidence
from ..evidence.values import listed
from ..rendering.cards import coding_card
from ..rules.packs import load_rule_book
from ..services import SERVICES_BY_ID
from .billing import (
    DOCUMENTATION_GAP,
    MATCH,
    MISSING_MODIFIER,
    Comparison,
    Known,
    billed_lines,
    compare,
    known_codes,
    with_suggested,
)
from .encounters import EncounterGroup, clinical_data, split_patient
from .fees import FeeSchedule
from .staging import Row

DISCHARGE = SERVICES_BY_ID["procedure-coding-encounter-discharge"]
AUDIT_USER = "Practitioner/retrospective-audit"


@dataclass(frozen=True)
class AuditConfig:
    rule_packs: str
    fee_schedule: FeeSchedule | None
    file_names: dict[int, str]


_ENGINES: dict[str, tuple[CodingEngine, Known]] = {}


def _engine(config: AuditConfig) -> tuple[CodingEngine, Known]:
    """One coding engine per process and rule-pack folder (packs are loaded and compiled once)."""
    found = _ENGINES.get(config.rule_packs)
    if found is None:
        book = load_rule_book(Path(config.rule_packs))
        found = _ENGINES[config.rule_packs] = (CodingEngine(Settings.from_env(), book), known_codes(book))
    return found


def code_chunk(chunk: list[tuple[str, list[Row]]], config: AuditConfig) -> list[tuple[str, int, bytes]]:
    engine, known = _engine(config)
    out = []
    for patient, rows in chunk:
        groups = split_patient(rows, config.file_names)
        records = [record for group in groups for record in code_encounter(engine, known, patient, group, config)]
        encounters = sum(1 for g in groups if g.key is not None)
        out.append((patient, encounters, b"".join(orjson.dumps(r) + b"\n" for r in records)))
    return out


def code_encounter(engine: CodingEngine, known: Known, patient: str, group: EncounterGroup,
                   config: AuditConfig) -> list[dict]:
    procedures = [r for r in group.resources if r.get("resourceType") == "Procedure"]
    if not procedures and not billed_lines(group.claims, [], group.key, known)[1]:
        return []  # nothing done and none of the packs' codes billed: the engine would find no subject
    call = {"hook": DISCHARGE.hook, "context": {"userId": AUDIT_USER, "patientId": patient.split("/", 1)[1]}}
    if group.encounter_id:
        call["context"]["encounterId"] = group.encounter_id
    findings, evidence = engine.findings(DISCHARGE, call, clinical_data(group))
    known = with_suggested(known, findings)
    source, lines = billed_lines(group.claims, procedures, group.key, known)
    if not findings and not lines:
        return []
    comparisons = compare(findings, lines, source, known)
    return [_record(c, patient, group, source, evidence, config, known) for c in comparisons]


def _amount(config: AuditConfig, lines: list[dict], facility: bool) -> float | None:
    if config.fee_schedule is None:
        return None
    total = 0.0
    for line in lines:
        value = config.fee_schedule.amount(line["code"], line.get("modifiers", []), line["units"], facility)
        total += value or 0.0
    return round(total, 2)


def _value(status: str, expected: float | None, billed: float | None) -> float | None:
    """Money at stake: the difference when the lines are wrong, the billed amount when a denial threatens it."""
    if expected is None or billed is None:
        return None
    if status == MATCH:
        return 0.0
    if status in (MISSING_MODIFIER, DOCUMENTATION_GAP):
        return billed or expected
    return round(abs(expected - billed), 2)


def _encounter_day(group: EncounterGroup) -> str | None:
    for resource in group.resources:
        if resource.get("resourceType") == "Encounter":
            period = resource.get("period") if isinstance(resource.get("period"), dict) else {}
            start = period.get("start")
            return start[:10] if isinstance(start, str) and len(start) >= 10 else None
    return None


def _payer(evidence: Evidence, group: EncounterGroup) -> str:
    """The payer's name: from the active Coverage, else from the claims' insurance (as Synthea writes it)."""
    if evidence.payor_names:
        return evidence.payor_names[0]
    for claim in group.claims:
        for insurance in listed(claim, "insurance"):
            coverage = insurance.get("coverage") if isinstance(insurance, dict) else None
            if isinstance(coverage, dict) and isinstance(coverage.get("display"), str) and coverage["display"]:
                return coverage["display"]
    return "(no coverage)"


def _record(comparison: Comparison, patient: str, group: EncounterGroup, source: str, evidence_of: Evidence,
            config: AuditConfig, known: Known) -> dict:
    problems = evidence_of.problems
    payer = _payer(evidence_of, group)
    encounter_class = evidence_of.encounter_class.get(group.key or "", "")
    finding = comparison.finding
    billed = [line.as_json() for line in comparison.billed]
    record: dict = {"patient": patient, "encounter": group.key}
    if finding is None:
        families = sorted({f for line in comparison.billed for f in known.get(line.code, ())})
        record.update(subject=group.key or patient, family="/".join(families) or None, rule=None,
                      date=_encounter_day(group), suggested=[],
                      notSeparatelyBillable=[], gaps=[], billingGaps=[],
                      payer=payer, payerProfile=None, facility=None)
        evidence = {"summary": "Billed lines that no coded procedure of the encounter accounts for", "detail": ""}
    else:
        card = coding_card(finding, problems, preview=False)
        record.update(
            subject=finding.act.key, family=finding.pack.id, rule=finding.rule_id,
            date=finding.act.day or (finding.act.start.date().isoformat() if finding.act.start else None),
            suggested=[line.as_json() for line in finding.lines],
            notSeparatelyBillable=list(dict.fromkeys(finding.not_separately_billable)),
            gaps=[gap.id for gap in finding.gaps], billingGaps=[gap.id for gap in finding.billing_gaps],
            payer=payer, payerProfile=finding.payer.id,
            facility=finding.facility,
        )
        evidence = {"summary": card["summary"], "indicator": card["indicator"], "detail": card["detail"]}
    record["billed"] = billed
    record["billedFrom"] = source
    record["status"] = comparison.status
    record["problems"] = comparison.problems
    facility = bool(record["facility"]) if record["facility"] is not None else encounter_class in ("IMP", "EMER")
    expected = _amount(config, record["suggested"], facility)
    billed_amount = _amount(config, billed, facility)
    record["expectedAmount"], record["billedAmount"] = expected, billed_amount
    record["value"] = _value(record["status"], expected, billed_amount)
    refs = [record["subject"], *(line["source"].split(" item")[0] for line in billed)]
    evidence["resources"] = {key: group.where[key] for key in dict.fromkeys(refs) if key in group.where}
    record["evidence"] = evidence
    record["encounterClass"] = encounter_class or None
    return record

