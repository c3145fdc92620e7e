"""Cards from findings: one card per coded subject, the `cpt-coding.suggestion` extension, suggestions.

Wording that is not family-specific lives here; code meanings, plain-language explanations, checklist
items, sources and override reasons come from the packs.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta

from ..evidence.values import CPT, canonical_system
from ..rules.model import BILATERAL, Finding
from .markdown import bullets, checklist, escape, section

EXTENSION = "cpt-coding.suggestion"
# Argonaut PAMA rating: the CDS Hooks sandbox's imaging screen reads it off every `update` suggestion it is
# given. A procedure is outside imaging appropriate-use criteria, which `no-criteria-apply` says truthfully.
PAMA_RATING_URL = "http://fhir.org/argonaut/Extension/pama-rating"
PAMA_RATING = {
    "url": PAMA_RATING_URL,
    "valueCodeableConcept": {
        "coding": [{"system": "http://fhir.org/argonaut/CodeSystem/pama-rating", "code": "no-criteria-apply"}]
    },
}
SUMMARY_LIMIT = 139
SIDE_WORDS = {"right": "right", "left": "left", BILATERAL: "both sides"}


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _label(line) -> str:
    return f"{line.label} x{line.units}" if line.kind == "drug" else line.label


def summary(finding: Finding) -> str:
    act, entry = finding.act, finding.entry
    coded = [line for line in finding.lines if line.code in finding.pack.codes]
    if coded:
        labels = ", ".join(_label(line) for line in finding.lines)
        text = f"Bill {labels}: {finding.pack.codes[coded[0].code].short}"
        if finding.code_is_wrong:
            text += f" (not {', '.join(finding.current_codes)})"
        return _short(text)
    if finding.site_missing:
        return _short(f"Which site? {act.key} cannot be coded until it is recorded ({finding.approach.label})")
    if finding.lines:  # only drug supply lines: the procedure line is on another card
        labels = ", ".join(_label(line) for line in finding.lines)
        where = f" (procedure in the bilateral {finding.billed_elsewhere[0]} line)" if finding.billed_elsewhere else ""
        return _short(f"Bill {labels}: drug supply for {act.key}{where}")
    if finding.billed_elsewhere:
        return _short(f"No line of its own: {act.key} is in the bilateral {finding.billed_elsewhere[0]} line")
    if finding.not_separately_billable and entry is not None:
        return _short(f"Do not bill {', '.join(finding.not_separately_billable)} for {act.key}: "
                      f"included in another line")
    return _short(f"Nothing to bill for {act.key}: {finding.approach.label} was not done")


def indicator(finding: Finding, preview: bool) -> str:
    if preview:
        return "info"
    if finding.code_is_wrong or finding.billing_gaps or finding.mue_exceeded:
        return "warning"
    return "info"


def _why(finding: Finding) -> list[str]:
    reasons = [f"Approach: {finding.approach.label} ({finding.approach_why})."]
    if finding.stage == "order" or (finding.entry is not None and finding.entry.role == "procedure"):
        reasons.append(f"Imaging guidance: {finding.guidance_why or 'none recorded'}.")
    elif finding.entry is not None:
        reasons.append(f"The procedure was not done, so the imaging that showed why is billed instead: "
                       f"{finding.guidance_why or 'see the ImagingStudy'}.")
    for choice in finding.sites:
        side = SIDE_WORDS[choice.side] if choice.side else "side not recorded"
        digit = (f", {choice.digit.label} ({choice.digit_modifier or 'no side for its modifier'})"
                 if choice.digit else "")
        reasons.append(f"Site: {choice.site.label} ({side}{digit}), from {choice.why}: {choice.entry.code}.")
    if finding.site_missing:
        reasons.append("Site: none of the pack's sites is named in bodySite, the code text or the procedure's own "
                       "note, so no code can be chosen.")
    if finding.pack.laterality and not finding.sites:
        if finding.side_conflict:
            reasons.append(f"Side: {finding.side_conflict}.")
        reasons.append(f"Side: {SIDE_WORDS[finding.side]}, from {finding.side_why}." if finding.side
                       else "Side: not recorded in bodySite or the note.")
    reading = finding.reading
    if reading is not None and finding.stage != "order":
        if reading.fate is not None:
            reasons.append(f"Catheter: {reading.fate.value}, from the note: {reading.fate.cited}.")
        if reading.volume is not None:
            reasons.append(f"Volume removed: {reading.volume.value} mL, from the note: {reading.volume.cited}.")
        if reading.complications is not None:
            reasons.append(f"Complications: stated in the note: {reading.complications.cited}.")
    for dose in finding.drugs:
        units = ", ".join(f"{code} x{n}" for code, n in dose.codes)
        reasons.append(f"Drug: {dose.label}, {dose.mg:g} mg ({dose.why}): {units}." if dose.codes
                       else f"Drug: {dose.label} ({dose.why}), but no usable dose in mg is recorded.")
    reasons.extend(f"Not a drug line: {note}." for note in finding.drug_notes)
    if finding.diagnosis is not None:
        dx = finding.diagnosis
        reasons.append(f"Diagnosis: {dx.label} ({dx.source}) supports the procedure.")
    else:
        reasons.append("Diagnosis: none of the coded diagnoses supports the procedure.")
    if finding.code_is_wrong:
        reasons.append(f"The resource carries {', '.join(finding.current_codes)}, which the evidence does not support.")
    if finding.stage == "procedure" or finding.stage == "not-performed":
        reasons.append(f"Payer rules: {finding.payer.title}.")
    reasons.extend(_global_periods(finding))
    return [escape(r) for r in reasons + finding.edits]


def _global_periods(finding: Finding) -> list[str]:
    """Codes of the subject's lines that carry a post-procedure global period (fee schedule 010, 090)."""
    found = []
    for code in dict.fromkeys(line.code for line in finding.lines if line.code in finding.pack.codes):
        days = finding.pack.codes[code].global_days
        if not days:
            continue
        who = f"the same performer ({finding.act.performer})" if finding.act.performer else "the same performer"
        until = ""
        if finding.act.day:
            try:
                until = f", through {date.fromisoformat(finding.act.day) + timedelta(days=days)}"
            except ValueError:
                until = ""
        found.append(f"Global period: {code} carries a {days}-day global period; related follow-up visits by "
                     f"{who} in the next {days} days{until} are included in it, not billed separately.")
    return found


def detail(finding: Finding, problems: list[str]) -> str:
    pack = finding.pack
    parts = [section("Why", bullets(_why(finding)))]
    explained = [pack.codes[c] for c in dict.fromkeys(line.code for line in finding.lines) if c in pack.codes]
    if not explained and finding.entry is not None:
        explained = [finding.entry]
    plain = "\n\n".join(f"{entry.code} ({entry.meaning}): {entry.plain}" for entry in explained)
    drug_codes = [pack.drugs.code(line.code) for line in finding.lines if line.kind == "drug"] if pack.drugs else []
    plain += "".join(f"\n\n{c.code} ({c.meaning}): the drug itself, billed per {c.mg_per_unit:g} mg "
                     f"({pack.drugs.source.label})" for c in dict.fromkeys(drug_codes) if c is not None)
    parts.append(section("In plain words", plain))
    gaps = [
        f"{gap.checklist} (`{gap.id}`)" + ("" if gap.billing else " (reminder)")
        + (f": {escape(finding.side_conflict)}" if gap.side and finding.side_conflict else "")
        for gap in finding.gaps
    ]
    parts.append(section("Documentation to complete", checklist(gaps)))
    bundled = []
    holder = finding.lines[0].label if finding.lines else "the procedure line"
    for code in finding.not_separately_billable:
        label = pack.bundled_guidance.get(code) or (pack.codes[code].short if code in pack.codes else code)
        bundled.append(f"{code} ({label}): not separately billable with {holder}")
    parts.append(section("Not separately billable", bullets(bundled)))
    parts.append(section("Data not read", bullets([escape(p) for p in problems])))
    return "\n\n".join(p for p in parts if p)


def _without_empties(value):
    """A copy with no null, "", [] or {} anywhere: CDS Hooks forbids them, and inputs may carry them."""
    if isinstance(value, dict):
        pruned = {k: _without_empties(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        pruned = [_without_empties(v) for v in value]
        return [v for v in pruned if v not in (None, "", [], {})]
    return value


def _procedure_code(finding: Finding) -> str | None:
    """The first line's CPT code of the pack (drug supply lines are not the subject's code)."""
    return next((line.code for line in finding.lines if line.code in finding.pack.codes), None)


def _coded_resource(finding: Finding) -> dict | None:
    """The subject with the CPT coding set in code.coding (wrong codes of the family replaced)."""
    code = _procedure_code(finding)
    if code is None or finding.current_codes == [code]:
        return None
    resource = _without_empties(finding.act.resource)
    concept = resource.get("code") if isinstance(resource.get("code"), dict) else {}
    coding = concept.get("coding") if isinstance(concept.get("coding"), list) else []
    kept = [
        c for c in coding if isinstance(c, dict)
        and not (canonical_system(c.get("system")) == CPT and c.get("code") in finding.pack.cpt_index)
    ]
    kept.append({"system": CPT, "code": code, "display": finding.pack.codes[code].short})
    concept["coding"] = kept
    resource["code"] = concept
    return with_pama_rating(resource)


def with_pama_rating(resource: dict) -> dict:
    """The resource with the PAMA rating extension added, unless it already carries a rating of its own."""
    extensions = resource.get("extension") if isinstance(resource.get("extension"), list) else []
    if not any(isinstance(e, dict) and e.get("url") == PAMA_RATING_URL for e in extensions):
        resource["extension"] = [*extensions, copy.deepcopy(PAMA_RATING)]
    return resource


def suggestions(finding: Finding) -> list[dict]:
    actions = []
    labels = []
    resource = _coded_resource(finding)
    if resource is not None:
        code = _procedure_code(finding)
        verb = f"Replace {', '.join(finding.current_codes)} with" if finding.current_codes else "Add"
        labels.append(f"{verb} CPT {code} on {finding.act.key}")
        actions.append({"type": "update", "description": f"{verb} CPT {code} in {finding.act.key}.code",
                        "resource": resource})
    for order in finding.bundled_orders:
        labels.append(f"remove the separate guidance order {order}")
        actions.append({"type": "delete", "description": f"Delete {order}: its guidance is included in the "
                        f"procedure code", "resourceId": order})
    if not actions:
        return []
    label = "; ".join(labels)
    return [{"label": label[0].upper() + label[1:], "uuid": str(uuid.uuid4()), "actions": actions}]


def extension(finding: Finding) -> dict:
    body: dict = {"subject": finding.act.key}
    if finding.lines:
        body["lines"] = [line.as_json() for line in finding.lines]
    if finding.not_separately_billable:
        body["notSeparatelyBillable"] = list(dict.fromkeys(finding.not_separately_billable))
    if finding.gaps:
        body["documentationGaps"] = [gap.id for gap in finding.gaps]
    evidence = [item for item in (e.as_json() for e in finding.evidence) if item is not None]
    if evidence:
        body["evidence"] = evidence
    body["rule"] = finding.rule_id
    return {EXTENSION: body}


def coding_card(finding: Finding, problems: list[str], preview: bool) -> dict:
    pack = finding.pack
    card = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(finding),
        "indicator": indicator(finding, preview),
        "detail": detail(finding, problems),
        "source": {"label": pack.card_source.label, "url": pack.card_source.url},
    }
    proposed = suggestions(finding)
    if proposed:
        card["suggestions"] = proposed
        card["selectionBehavior"] = "at-most-one"
    card["overrideReasons"] = [
        {"system": pack.override_system, "code": code, "display": display} for code, display in pack.override_reasons
    ]
    card["extension"] = extension(finding)
    return card


def problems_card(problems: list[str], source: dict) -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "summary": "Some clinical data could not be read; no procedure could be coded from the rest",
        "indicator": "info",
        "detail": section("Data not read", bullets([escape(p) for p in problems])),
        "source": source,
    }


def render(findings: list[Finding], problems: list[str], preview: bool, fallback_source: dict) -> list[dict]:
    cards = [coding_card(finding, problems, preview) for finding in findings]
    if not cards and problems:
        cards.append(problems_card(problems, fallback_source))
    return cards
