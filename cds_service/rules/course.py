"""Day-sequence codes: a course of daily treatments is coded by day, a first-day code and a later-day code.

An act of an approach with a `course` is on a later day when the patient had an act of the same approach on an
earlier day in the same encounter, or in any encounter within the course window before it. Every act of one
day is one unit: the day's first act holds the line, the others are included in it.
"""

from __future__ import annotations

from datetime import date, timedelta

from ..evidence.facts import ActFacts
from .decide import NOT_DONE, _text_match, choose_approach, recognise
from .model import ORDER, Finding
from .packs import RuleBook

PERFORMED = frozenset({"completed", "in-progress"})


def _day(act: ActFacts) -> date | None:
    try:
        return date.fromisoformat(act.day) if act.day else None
    except ValueError:
        return None


def course_members(book: RuleBook, finding: Finding, findings: list[Finding],
                   history: list[ActFacts]) -> list[ActFacts]:
    """The performed acts of the patient with the same pack and approach as `finding` (this call's and the
    fetched history), itself excluded."""
    members = [
        f.act for f in findings
        if f is not finding and f.pack is finding.pack and f.approach.id == finding.approach.id
        and f.stage != ORDER and f.act.status in PERFORMED
    ]
    for act in history:
        if act.status not in PERFORMED:
            continue
        recognised = recognise(book, act)
        if recognised is None or recognised.pack is not finding.pack:
            continue
        if choose_approach(recognised, act)[0].id == finding.approach.id:
            members.append(act)
    return members


def sequence_courses(book: RuleBook, findings: list[Finding], history: list[ActFacts]) -> None:
    """Pick the first-day or later-day code of every act of a course."""
    for finding in findings:
        window = finding.approach.course_days
        if window is None or finding.entry is None or finding.entry.course_day is None:
            continue
        day = _day(finding.act)
        if day is None or finding.act.status == NOT_DONE:
            continue
        earlier = []
        for act in course_members(book, finding, findings, history):
            other = _day(act)
            if other is None or other >= day:
                continue
            same_encounter = act.encounter is not None and act.encounter == finding.act.encounter
            if same_encounter or day - other <= timedelta(days=window):
                earlier.append((other, act.key))
        looked = "this call's procedures" + (" and the patient's earlier encounters" if history else "")
        said = _says_later_day(finding)
        if not earlier and said:
            entry = finding.pack.code_for(finding.approach.id, finding.guided, "later")
            if entry is not None:
                finding.entry = entry
                finding.edits.append(f"A later day of the course: {said}; no earlier day of it in {looked}.")
                continue
        if not earlier:
            finding.edits.append(f"First day of the course: no earlier day of it in {looked} (same encounter, or "
                                 f"within {window} days).")
            continue
        entry = finding.pack.code_for(finding.approach.id, finding.guided, "later")
        if entry is None:
            continue
        finding.entry = entry
        first_day, first_key = min(earlier)
        finding.edits.append(f"A later day of the course, which began on {first_day.isoformat()} ({first_key}): "
                             f"{len({d for d, _ in earlier})} earlier day(s) within the course.")


def _says_later_day(finding: Finding) -> str | None:
    """Where the act's own words (its code text or its own note) say it is a later day of its course."""
    patterns = finding.approach.course_later_text
    if not patterns:
        return None
    act = finding.act
    found = patterns.search(act.code_text) if act.code_text else None
    if found:
        return f"\"{found}\" in the code text of {act.key}"
    match = _text_match(act, patterns, own_only=True)
    return f"\"{match[0]}\" in {match[1]}" if match else None


def one_unit_a_day(findings: list[Finding]) -> None:
    """A day-sequence code is one unit a day for all acts of that day, whatever the side or session."""
    holders: dict[tuple[str, str, str], Finding] = {}
    timed = sorted(findings, key=lambda f: f.act.start.timestamp() if f.act.start else 0.0)
    for finding in timed:
        if finding.entry is None or finding.entry.course_day is None or not finding.lines or not finding.act.day:
            continue
        key = (finding.pack.id, finding.approach.id, finding.act.day)
        holder = holders.setdefault(key, finding)
        if holder is finding:
            continue
        for line in finding.lines:
            finding.not_separately_billable.append(line.code)
        finding.lines = []
        finding.edits.append(f"{finding.entry.code} is one unit a day covering every instillation of that day: "
                             f"billed on the card for {holder.act.key}.")
        holder.edits.append(f"{finding.act.key} the same day is included in this line (one unit a day).")
