"""Medical necessity and documentation gaps, checked per finding with the pack's detectors."""

from __future__ import annotations

from datetime import timedelta

from ..evidence.facts import Diagnosis, Evidence
from ..evidence.values import SNOMED
from .model import Finding
from .packs import GapSpec

# Imaging after the procedure counts as post-procedure imaging within this horizon.
AFTER_HORIZON = timedelta(hours=24)


def supporting_diagnosis(finding: Finding, evidence: Evidence) -> Diagnosis | None:
    """The first diagnosis (the act's reasons first, then the encounter's active Conditions) that supports the
    pack: an ICD-10-CM code starting with one of its prefixes, or one of its SNOMED CT concepts."""
    prefixes = finding.pack.necessity_prefixes
    concepts = finding.pack.necessity_snomed
    for diagnosis in evidence.diagnoses_for(finding.act):
        if diagnosis.code.system == SNOMED:
            if diagnosis.code.code in concepts:
                return diagnosis
        elif diagnosis.code.code.replace(".", "").upper().startswith(prefixes):
            return diagnosis
    return None


def _satisfied(gap: GapSpec, finding: Finding, evidence: Evidence) -> bool:
    act = finding.act
    if gap.supporting_diagnosis and finding.diagnosis is not None:
        return True
    # A site of a group of digits (a finger, a toe) needs its digit too: the modifier names the digit.
    if gap.side and ((finding.side is not None and not finding.side_conflict)
                     or (finding.sites and all(c.side for c in finding.sites))) and all(
            c.digit is not None for c in finding.sites if c.site.digits is not None):
        return True
    if gap.site and finding.sites:
        return True
    if gap.guidance_report and not finding.report_missing:
        return True
    if gap.drug_dose and not finding.drug_dose_missing:
        return True
    if gap.guidance_images and not (finding.guidance_claimed and not finding.guided):
        return True
    reading = finding.reading
    if gap.text:
        if reading is not None:  # the text pipeline read the notes: a statement, not a plan or a history
            if gap.id in reading.gaps:
                return True
        elif any(gap.text.search(note.text) for note in act.texts):
            return True
    if gap.note_field and reading is not None and _stated(gap.note_field, finding):
        return True
    if gap.observation_units and any(
        v.unit.lower() in gap.observation_units for v in evidence.volumes_by_act.get(act.key, ())
    ):
        return True
    if gap.procedure_fields and any(name in act.fields_present for name in gap.procedure_fields):
        return True
    if gap.imaging_after and act.start is not None:
        later = evidence.imaging_between(act.encounter or evidence.encounter_key, act.end or act.start,
                                         (act.end or act.start) + AFTER_HORIZON)
        if any(study.modalities & gap.imaging_after for study in later):
            return True
    return False


def _stated(note_field: str, finding: Finding) -> bool:
    reading = finding.reading
    if note_field == "volume":
        return reading.note_volume
    if note_field == "complications":
        return reading.complications is not None
    if note_field == "device_fate":
        # Nothing to state when no device went in, or when the record already says it stayed (codes, focalDevice).
        device = finding.pack.note_reading.device
        return not reading.device_fate_missing or (device is not None and finding.approach.id == device.approach)
    return False


def documentation_gaps(finding: Finding, evidence: Evidence) -> list[GapSpec]:
    if finding.entry is None and not finding.site_missing:
        return []
    billed = {line.code for line in finding.lines} | ({finding.entry.code} if finding.entry else set())
    return [
        gap for gap in finding.pack.documentation
        if finding.stage in gap.stages and (not gap.for_codes or gap.for_codes & billed)
        and not _satisfied(gap, finding, evidence)
    ]
