"""The generic rules engine: recognise -> decide per subject -> claim edits -> necessity and gaps.

Pure functions of the evidence and the rule book; no I/O. Knows no procedure family by name.
"""

from __future__ import annotations

from ..evidence.facts import ActFacts, Evidence
from .claim import apply_claim_edits
from .course import sequence_courses
from .decide import decide, guidance_code, recognise
from .documentation import documentation_gaps, supporting_diagnosis
from .model import Finding
from .packs import PayerProfile, RuleBook
from .reading import NoteReadings
from .refine import refine


def payer_for(book: RuleBook, evidence: Evidence) -> PayerProfile:
    for payer in book.payers:
        if payer.match_payor and any(payer.match_payor.search(name) for name in evidence.payor_names):
            return payer
    return book.default_payer


def evaluate(book: RuleBook, evidence: Evidence) -> tuple[list[Finding], list[ActFacts]]:
    """Findings for the focus subjects (in focus order), and the guidance acts that stay unattached."""
    payer = payer_for(book, evidence)
    focus_keys = {act.key for act in evidence.focus}
    guidance_orders = [
        act for act in evidence.acts
        if act.is_order and act.key in focus_keys and guidance_code(book, act) is not None
    ]
    guidance_keys = {act.key for act in guidance_orders}
    readings = NoteReadings(book.reader, evidence, book.packs)
    findings: list[Finding] = []
    for act in evidence.acts:
        if act.key in guidance_keys:
            continue
        # Orders are only coded when they are the call's draft orders; every Procedure read is evidence
        # for the claim (sessions, bilateral, repeats), even when this hook does not code it.
        if act.is_order and act.key not in focus_keys:
            continue
        recognised = recognise(book, act, readings)
        if recognised is None:
            continue
        finding = decide(book, recognised, act, evidence, payer, guidance_orders, readings)
        refine(finding, evidence, book, guidance_orders, readings)
        findings.append(finding)

    sequence_courses(book, findings, evidence.history)
    apply_claim_edits(findings, focus_keys)

    by_key = {f.act.key: f for f in findings}
    coded = [by_key[act.key] for act in evidence.focus if act.key in by_key]
    unattached = []
    for order in guidance_orders:
        holder = next((f for f in coded if order.key in f.bundled_orders and f.guided), None)
        if holder is None:
            unattached.append(order)
            continue
        for other in coded:  # one card carries the delete suggestion
            if other is not holder and order.key in other.bundled_orders:
                other.bundled_orders.remove(order.key)
        code = guidance_code(book, order)
        if code not in holder.not_separately_billable:
            holder.not_separately_billable.append(code)
    _attach_guidance_procedures(book, findings, coded, evidence)
    for finding in coded:
        finding.diagnosis = supporting_diagnosis(finding, evidence)
        # A subject whose line is carried elsewhere or not billable has nothing to document for the claim.
        finding.gaps = documentation_gaps(finding, evidence) if finding.lines or finding.site_missing else []
    return coded, unattached


def _attach_guidance_procedures(book: RuleBook, findings: list[Finding], coded: list[Finding],
                                evidence: Evidence) -> None:
    """A separate guidance charge (a Procedure coded with one of the pack's bundled guidance codes) within a
    session's time of a performed procedure is that procedure's guidance: never billed on top of it. It is
    named on one card: the coded subject that holds a line, in the same encounter, closest in time."""
    holders = [f for f in coded if f.lines and not f.act.is_order and f.act.start is not None
               and f.entry is not None and f.entry.role == "procedure"]
    if not holders:
        return
    subjects = {f.act.key for f in findings}
    for act in evidence.acts:
        if act.is_order or act.key in subjects or act.start is None:
            continue
        code = guidance_code(book, act)
        if code is None:
            continue
        near = [
            (abs((act.start - f.act.start).total_seconds()) / 60, i, f) for i, f in enumerate(holders)
            if code in f.pack.bundled_guidance and f.act.encounter == act.encounter
            # a guidance code billed as its own line with this procedure is not bundled into it
            and not any(spec.code == code for spec in f.pack.separate_guidance_for(f.entry.code))
        ]
        near = [item for item in near if item[0] <= item[2].pack.session_gap_minutes]
        if near:
            holder = min(near)[2]
            if code not in holder.not_separately_billable:
                holder.not_separately_billable.append(code)
