"""Pack dimensions applied after the per-subject decision: the guidance report a with-imaging code needs,
the site dimension that selects the code (one code per site), and the drugs injected.
"""

from __future__ import annotations

from ..evidence.facts import ActFacts, Evidence
from .decide import NOTE_SIDE, separate_guidance
from .drugs import drug_doses
from .model import NOT_PERFORMED, ORDER, Finding
from .packs import RuleBook
from .reading import NoteReadings
from .sites import sites_of


def _report(finding: Finding) -> str | None:
    """Where the guidance report is recorded (a Procedure field or text), or None."""
    pack, act = finding.pack, finding.act
    for name in pack.guidance_report_fields:
        if name in act.fields_present:
            return f"{act.key}.{name}"
    if pack.guidance_report:
        for note in act.texts:
            found = pack.guidance_report.search(note.text.replace("\n", " "))  # a report wraps its lines
            if found:
                return f"\"{found}\" in {note.source}"
    return None


def _require_report(finding: Finding) -> None:
    if finding.pack.guidance_report is None or finding.stage != "procedure" or not finding.guided:
        return
    where = _report(finding)
    if where is not None:
        finding.guidance_why += f"; the guidance report is {where}"
        return
    finding.guided = False
    finding.report_missing = True
    finding.guidance_why += ", but no guidance report (images described, needle position) is recorded"
    finding.entry = finding.pack.code_for(finding.approach.id, False)


def _class_of_current_code(finding: Finding):
    pack = finding.pack
    for code in finding.current_codes:
        site_class = pack.codes[code].site_class
        if site_class is not None:
            entry = pack.code_for(finding.approach.id, finding.guided, site_class=site_class)
            if entry is not None:
                finding.approach_why += f"; no site is named, so the class of {code} on the resource is kept"
                return entry
    return None


def refine(finding: Finding, evidence: Evidence, book: RuleBook, guidance_orders: list[ActFacts],
           readings: NoteReadings | None = None) -> None:
    pack = finding.pack
    if finding.stage == NOT_PERFORMED:
        return
    entry = finding.entry
    _require_report(finding)
    if pack.sites:
        # A side read from the note as a whole yields to the side the note gives the site itself.
        from_note = finding.side_why.startswith(NOTE_SIDE)
        finding.sites = sites_of(pack, finding.act, None if from_note else finding.side, readings,
                                 note_side=finding.side if from_note else None)
        for choice in finding.sites:
            choice.entry = pack.code_for(finding.approach.id, finding.guided, site_class=choice.site.site_class)
        finding.sites = [c for c in finding.sites if c.entry is not None]
        finding.entry = finding.sites[0].entry if finding.sites else _class_of_current_code(finding)
        # No site named: a CPT code already on the resource still says the class (the site gap stays open).
        finding.site_missing = finding.entry is None
        if finding.sites and finding.side is None:
            sides = {c.side for c in finding.sites if c.side}
            finding.side = sides.pop() if len(sides) == 1 else None
            finding.side_why = finding.side_why or (finding.sites[0].why if finding.side else "")
    if finding.entry is not None and finding.entry is not entry:
        # the code changed here (site class, no report): its own separately billable guidance
        finding.guidance_lines = separate_guidance(book, pack, finding, evidence, guidance_orders)
    if pack.drugs is not None and finding.stage != ORDER:
        drug_doses(pack.drugs, finding.act, evidence, finding, readings)
