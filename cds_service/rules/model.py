"""What the engine decides: claim lines and one finding per coded subject, with the reasons behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..evidence.facts import ActFacts, Diagnosis, ImagingFacts
from .packs import Approach, CodeEntry, DigitSpec, GapSpec, PayerProfile, RulePack, SiteSpec
from .reading import ActReading, TextEvidence

RIGHT, LEFT, BILATERAL = "right", "left", "bilateral"

# Stages decide which documentation checks apply (see GapSpec.stages).
ORDER, PROCEDURE, NOT_PERFORMED = "order", "procedure", "not-performed"


@dataclass
class Line:
    code: str
    units: int
    side: str | None
    day: str | None
    start: datetime | None
    performer: str | None
    session: int
    modifiers: list[str] = field(default_factory=list)
    primary: str | None = None  # for a separate guidance line: the procedure code it guided
    site: str | None = None  # the site id when the pack has a site dimension (each site is its own line)
    digit: str | None = None  # the anatomic digit modifier, which replaces the side modifier
    kind: str = "procedure"  # or "drug": a supply line with units from the dose, no side or claim edits

    @property
    def label(self) -> str:
        return "-".join([self.code, *self.modifiers])

    def as_json(self) -> dict:
        line: dict = {"code": self.code}
        if self.modifiers:
            line["modifiers"] = list(self.modifiers)
        line["units"] = self.units
        return line


@dataclass
class SiteChoice:
    """One site of a subject: its side, its digit, why, and the code its class selects."""

    site: SiteSpec
    side: str | None
    digit: DigitSpec | None
    why: str
    entry: CodeEntry | None = None

    @property
    def digit_modifier(self) -> str | None:
        return self.digit.modifiers.get(self.side or "") if self.digit else None


@dataclass
class DrugDose:
    """An injected drug read from a MedicationAdministration or a note, with its dose in mg when known."""

    label: str
    mg: float | None
    why: str
    codes: list[tuple[str, int]] = field(default_factory=list)  # (HCPCS code, units)


@dataclass
class Finding:
    """The coding decision for one subject (a Procedure or a ServiceRequest) and why it was made."""

    act: ActFacts
    pack: RulePack
    payer: PayerProfile
    stage: str
    approach: Approach
    approach_why: str
    entry: CodeEntry | None = None
    guided: bool = False
    guidance_why: str = ""
    guidance_claimed: bool = False
    guidance_study: ImagingFacts | None = None
    side: str | None = None
    side_why: str = ""
    facility: bool = False
    lines: list[Line] = field(default_factory=list)
    not_separately_billable: list[str] = field(default_factory=list)
    # Plain-text reasons for claim-level edits (bilateral merge, NCCI, absorption, repeats, MUE).
    edits: list[str] = field(default_factory=list)
    billed_elsewhere: list[str] = field(default_factory=list)  # codes of this act carried on another card
    bundled_orders: list[str] = field(default_factory=list)  # guidance orders to delete, as "ServiceRequest/x"
    diagnosis: Diagnosis | None = None
    gaps: list[GapSpec] = field(default_factory=list)
    current_codes: list[str] = field(default_factory=list)
    mue_exceeded: bool = False
    session: int = 0
    # Separately billable guidance codes for this subject's procedure code, with why each applies.
    guidance_lines: list[tuple[str, str]] = field(default_factory=list)
    # What the notes say about this act (rules/reading.py), the text evidence the card cites, and a conflict
    # between the side in bodySite and the side in the note.
    reading: ActReading | None = None
    evidence: list[TextEvidence] = field(default_factory=list)
    side_conflict: str = ""
    sites: list[SiteChoice] = field(default_factory=list)
    site_missing: bool = False  # the pack selects the code by site and none was found
    report_missing: bool = False  # imaging with saved images, but no guidance report for the with-imaging code
    drugs: list[DrugDose] = field(default_factory=list)
    drug_dose_missing: bool = False
    drug_notes: list[str] = field(default_factory=list)  # drugs seen that are not a line, and why

    @property
    def rule_id(self) -> str:
        rule = self.entry.rule if self.entry else ("site-unknown" if self.site_missing else NOT_PERFORMED)
        return f"{self.pack.id}/{rule}"

    @property
    def code_is_wrong(self) -> bool:
        """The resource already carries a CPT code of this family that is not what should be billed."""
        if not self.current_codes:
            return False
        expected = {line.code for line in self.lines} | set(self.billed_elsewhere)
        return not set(self.current_codes) <= expected

    @property
    def billing_gaps(self) -> list[GapSpec]:
        return [gap for gap in self.gaps if gap.billing]
