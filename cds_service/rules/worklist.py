"""Which findings a worklist view (patient-view) shows: recent subjects that still need something.

A subject needs something when the code to bill is missing from the resource or differs from it, when a
billing documentation gap is open (side, indication, saved images, volume, complications: the side gap is
also the missing RT/LT modifier), or when the units exceed the MUE. Reminders alone do not count, nor
modifiers the engine could decide from the record (they go on the claim, not on the Procedure).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from .model import Finding


def started_within(findings: list[Finding], days: int, now: datetime | None = None) -> list[Finding]:
    """Findings whose subject started on or after the UTC day `days` days ago, as the prefetch's `date=ge`
    search reads it (a subject with no start date is left out)."""
    since = datetime.combine(((now or datetime.now(UTC)) - timedelta(days=days)).date(), time.min, UTC)
    return [f for f in findings if f.act.start is not None and f.act.start >= since]


def needs_code(finding: Finding) -> bool:
    if finding.code_is_wrong:
        return True
    return any(line.code not in finding.current_codes for line in finding.lines)


def still_open(finding: Finding) -> bool:
    return needs_code(finding) or bool(finding.billing_gaps) or finding.mue_exceeded
