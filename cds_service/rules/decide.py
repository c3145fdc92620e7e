"""Per-subject decisions: which pack and approach, whether guidance counts, the side, the code.

Everything family-specific comes from the pack; these functions only compare evidence with pack data.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..evidence.facts import ActFacts, Evidence, ImagingFacts, window
from ..evidence.values import CPT, ICD10PCS, SNOMED, Coded, system_name
from .model import BILATERAL, LEFT, NOT_PERFORMED, ORDER, PROCEDURE, RIGHT, Finding
from .packs import Approach, EvidenceSpec, PayerProfile, PcsReading, RuleBook, RulePack
from .reading import ActReading, NoteReadings

NOT_DONE = "not-done"
PLANNED = "preparation"
SEPARATE = "separate-guidance"


@dataclass(frozen=True)
class Recognised:
    pack: RulePack
    approach: Approach
    how: str


def _codes(act: ActFacts, system: str) -> list[str]:
    return [c.code for c in act.codings if c.system == system]


def pcs_reading(pack: RulePack, act: ActFacts) -> PcsReading | None:
    """What the act's ICD-10-PCS code says for this pack (approach, side), if it carries one of the pack's."""
    for code in _codes(act, ICD10PCS):
        reading = pack.pcs_reading(code)
        if reading is not None:
            return reading
    return None


def recognise(book: RuleBook, act: ActFacts, readings: NoteReadings | None = None) -> Recognised | None:
    """SNOMED CT first, then ICD-10-PCS, then a CPT code already on the resource, then the code's text (local
    codes carry only text), then the procedure its note names. A note that describes a procedure the pack does
    not code (its `note_reading.other_procedures`) and none that it does keeps the act from being coded as one of
    the pack's approaches."""
    if not act.is_order and act.status == PLANNED:
        return None  # a procedure in preparation is not yet done: nothing to code
    found = _recognise_by_code(book, act)
    if readings is None or act.is_order:
        return found
    if found is not None:
        reading = readings.reading(act, found.pack)
        # the note names another procedure first, unless it also names the one the code says (an instillation
        # "through the existing tube")
        return None if reading.other_first and reading.procedure != found.approach.id else found
    for pack in book.packs:
        if act.code_text and pack.other_procedures.search(act.code_text):
            return None  # the EHR names a procedure the pack does not code (a tube removal)
        reading = readings.reading(act, pack)
        if reading.procedure is not None and reading.procedure_evidence is not None:
            return Recognised(pack, pack.approach(reading.procedure),
                              f"the note: {reading.procedure_evidence.cited}")
    return None


# _recognise_by_code reads only the act's codings and code text: its answers are kept per rule book, since the
# same lab orders, routine procedures and vital-sign codes come back on every call (the code-text patterns of
# every approach were searched for each of them, twice per call). Bounded: emptied when it grows past the limit.
_BY_CODE_CACHE: dict[tuple[int, tuple, str], tuple[RuleBook, Recognised | None]] = {}
_BY_CODE_CACHE_LIMIT = 4096


def _recognise_by_code(book: RuleBook, act: ActFacts) -> Recognised | None:
    key = (id(book), act.codings, act.code_text)
    try:
        cached = _BY_CODE_CACHE.get(key)
    except TypeError:  # a coding field that cannot be hashed: no caching for this act
        return _recognise_by_code_uncached(book, act)
    if cached is not None and cached[0] is book:  # `is`: an id can be reused by a later rule book
        return cached[1]
    found = _recognise_by_code_uncached(book, act)
    if len(_BY_CODE_CACHE) >= _BY_CODE_CACHE_LIMIT:
        _BY_CODE_CACHE.clear()
    _BY_CODE_CACHE[key] = (book, found)
    return found


def _recognise_by_code_uncached(book: RuleBook, act: ActFacts) -> Recognised | None:
    for code in _codes(act, SNOMED):
        for pack in book.packs:
            if code in pack.snomed_index:
                return Recognised(pack, pack.snomed_index[code], f"SNOMED CT {code}")
    if any(c.system == ICD10PCS for c in act.codings):
        for pack in book.packs:
            reading = pcs_reading(pack, act)
            if reading is not None:
                return Recognised(pack, reading.approach, reading.how)
    for code in _codes(act, CPT):
        for pack in book.packs:
            entry = pack.cpt_index.get(code)
            if entry is not None and entry.role == "procedure":
                return Recognised(pack, pack.approach(entry.approach), f"CPT {code} on the resource")
    if act.code_text:
        for pack in book.packs:
            for approach in pack.approaches:
                found = approach.recognise.text.search(act.code_text)
                if found:
                    return Recognised(pack, approach, f"the words \"{found}\" in its code text")
    return None


def guidance_code(book: RuleBook, act: ActFacts) -> str | None:
    """The CPT imaging-guidance code this act carries (a separate guidance order or charge), if any."""
    for code in _codes(act, CPT):
        if any(code in pack.bundled_guidance or is_separate_guidance(pack, code) for pack in book.packs):
            return code
    return None


def is_separate_guidance(pack: RulePack, code: str) -> bool:
    entry = pack.codes.get(code)
    return entry is not None and entry.role == SEPARATE


def _text_match(act: ActFacts, patterns, own_only: bool = False) -> tuple[str, str] | None:
    """(excerpt, source) of the first match in the act's note texts (`own_only`: not in shared notes)."""
    for note in act.texts:
        if own_only and note.shared:
            continue
        found = patterns.search(note.text)
        if found:
            return found, note.source
    return None


def _evidence_match(spec: EvidenceSpec, act: ActFacts, reading: ActReading | None = None,
                    approach: str | None = None) -> str | None:
    """Why `act` shows the evidence of `spec` (codes, a focal device, or text), or None. With a reading, note
    text counts through the text pipeline (the mention attributed to the act, not negated, planned or past)."""
    for code in _codes(act, SNOMED):
        if code in spec.snomed:
            return f"SNOMED CT {code} on {act.key}"
    for code in _codes(act, CPT):
        if code in spec.cpt:
            return f"CPT {code} on {act.key}"
    if spec.focal_device and act.focal_device:
        return f"a device recorded in {act.key}.focalDevice"
    if spec.text:
        found = spec.text.search(act.code_text) if act.code_text else None
        if found:
            return f"\"{found}\" in the code text of {act.key}"
        if reading is not None:
            stayed = reading.stayed.get(approach or "")
            return f"the note: {stayed.cited}" if stayed is not None else None
        # A note shared by several procedures cannot say which of them kept its catheter.
        match = _text_match(act, spec.text, own_only=True)
        if match:
            return f"\"{match[0]}\" in {match[1]}"
    return None


def choose_approach(recognised: Recognised, act: ActFacts,
                    reading: ActReading | None = None) -> tuple[Approach, str]:
    pack = recognised.pack
    # An ICD-10-PCS code states the device (character 6): a drainage device left in, or none.
    coded = pcs_reading(pack, act)
    if coded is not None:
        return coded.approach, f"recognised by {coded.how}"
    device = pack.note_reading.device
    removed = reading is not None and reading.fate is not None and reading.fate.value == "removed"
    for approach in pack.approaches:
        if approach.selected_by is None:
            continue
        if approach.selects_from is not None and recognised.approach.id not in approach.selects_from:
            continue
        why = _evidence_match(approach.selected_by, act, reading, approach.id)
        if why:
            if removed and device is not None and approach.id == device.approach:
                break  # the note says the device came out: removed wins over codes and "placed" words
            return approach, why
    if removed and device is not None and recognised.approach.id in (device.approach, device.otherwise):
        return pack.approach(device.otherwise), f"the note says the device was removed: {reading.fate.cited}"
    return recognised.approach, f"recognised by {recognised.how}"


def _side_from(pack: RulePack, codes: tuple[Coded, ...], text: str, what: str) -> tuple[str | None, str]:
    """The side that `codes` or `text` name with the pack's laterality evidence (`what` names the field)."""
    found: dict[str, str] = {}
    for side, spec in pack.sides.items():
        for coded in codes:
            if coded.code in spec.snomed:
                found[side] = f"{what} code {coded.code}"
                break
        else:
            excerpt = spec.text.search(text) if text else None
            if excerpt:
                found[side] = f"{what} text \"{excerpt}\""
    if BILATERAL in found or (RIGHT in found and LEFT in found):
        return BILATERAL, found.get(BILATERAL) or f"{found[RIGHT]} and {found[LEFT]}"
    for side in (RIGHT, LEFT):
        if side in found:
            return side, found[side]
    return None, ""


def side_of(pack: RulePack, act: ActFacts) -> tuple[str | None, str]:
    """bodySite first; then the body part character of an ICD-10-PCS code."""
    if not pack.laterality:
        return None, ""
    side, why = _side_from(pack, act.body_sites, act.body_site_text, "bodySite")
    if side is None:
        reading = pcs_reading(pack, act)
        if reading is not None and reading.side is not None:
            return reading.side, f"the body part (character 4) of ICD-10-PCS {reading.code}"
    return side, why


def study_side(pack: RulePack, study: ImagingFacts) -> tuple[str | None, str]:
    """The side a study's series name (series.laterality, then series.bodySite), for a family with sides."""
    if not pack.laterality:
        return None, ""
    return _side_from(pack, study.laterality + study.body_sites, study.site_text, f"{study.key} series")


def _guidance_evidence(pack: RulePack, study: ImagingFacts, modalities: frozenset[str]) -> str | None:
    """Why `study` is imaging of `modalities` that guides this family's needle: its modality, or (for the
    pack's own guidance modalities) its procedureCode."""
    found = sorted(study.modalities & modalities)
    if found:
        return ", ".join(found)
    if modalities == pack.guidance_modalities:
        for coded in study.procedure_codes:
            if coded.code in pack.guidance_study_codes.get(coded.system, ()):
                return f"procedureCode {system_name(coded.system)} {coded.code}"
    return None


def qualifying_study(pack: RulePack, act: ActFacts, evidence: Evidence,
                     modalities: frozenset[str] | None = None, side: str | None = None,
                     other_side: list[str] | None = None) -> tuple[ImagingFacts | None, str, bool]:
    """(guidance study, how it links, whether some guidance study without saved images was found), among the
    studies of `modalities` (default: the pack's guidance modalities).

    A study whose series name the other side than `side` guided another procedure: it never counts (its key
    is added to `other_side`)."""
    modalities = pack.guidance_modalities if modalities is None else modalities
    candidates = evidence.imaging_linked_to(act)
    if act.start is not None:
        start, end = window(act.start, act.end, pack.guidance_window_minutes)
        encounter = act.encounter or evidence.encounter_key
        how = (f"it started within {pack.guidance_window_minutes} minutes before or during the procedure in the "
               f"same encounter")
        candidates.extend(
            (study, how) for study in evidence.imaging_between(encounter, start, end)
            # a study that names another procedure is that procedure's guidance, whatever its time
            if study.procedure_ref in (None, act.key)
        )
    unsaved = False
    for study, how in candidates:
        if _guidance_evidence(pack, study, modalities) is None:
            continue
        if pack.foreign_sites and {c.code for c in study.body_sites} & pack.foreign_sites:
            continue  # its series show another family's body site: that procedure's imaging
        other = study_side(pack, study)[0]
        if side in (RIGHT, LEFT) and other in (RIGHT, LEFT) and other != side:
            if other_side is not None and study.key not in other_side:
                other_side.append(study.key)
            continue
        if study.recorded_images:
            return study, how, unsaved
        unsaved = True
    return None, "", unsaved


NOTE_SIDE = "the note: "  # how a side read from the note is introduced in `side_why`


def _side_from_note(finding: Finding, reading: ActReading | None) -> None:
    """The note's side when bodySite has none; when both say one and they differ, the conflict (a gap)."""
    if reading is None or reading.side is None or not finding.pack.laterality:
        return
    said = reading.side
    if finding.side is None:
        finding.side, finding.side_why = str(said.value), f"{NOTE_SIDE}{said.cited}"
    elif {finding.side, said.value} == {RIGHT, LEFT}:
        # No side modifier until someone settles it: the laterality gap names the conflict.
        finding.side_conflict = (f"bodySite says {finding.side} ({finding.side_why}) but the note says {said.value}: "
                                 f"{said.cited}")
        finding.side, finding.side_why = None, ""


def decide(book: RuleBook, recognised: Recognised, act: ActFacts, evidence: Evidence, payer: PayerProfile,
           guidance_orders: list[ActFacts], readings: NoteReadings | None = None) -> Finding:
    pack = recognised.pack
    reading = readings.reading(act, pack) if readings is not None else None
    approach, approach_why = choose_approach(recognised, act, reading)
    stage = ORDER if act.is_order else (NOT_PERFORMED if act.status == NOT_DONE else PROCEDURE)
    finding = Finding(act=act, pack=pack, payer=payer, stage=stage, approach=approach, approach_why=approach_why)
    finding.reading = reading
    finding.evidence = reading.evidence() if reading is not None else []
    finding.current_codes = [c for c in _codes(act, CPT) if c in pack.cpt_index]
    finding.side, finding.side_why = side_of(pack, act)
    _side_from_note(finding, reading)
    encounter = act.encounter or evidence.encounter_key
    finding.facility = evidence.encounter_class.get(encounter or "", "") in payer.facility_encounter_classes
    if reading is not None:
        claim = reading.guidance
        text_claim = (f"{claim.quote}", claim.source) if claim is not None else None
    else:
        text_claim = _text_match(act, pack.guidance_claimed)
    if text_claim is None and act.code_text:
        found = pack.guidance_claimed.search(act.code_text)
        text_claim = (found, f"the code text of {act.key}") if found else None

    if stage == ORDER:
        own = [pack.cpt_index[c] for c in finding.current_codes if pack.cpt_index[c].guided is True]
        ordered = [o for o in guidance_orders if guidance_code(book, o) in pack.guidance_order_codes]
        finding.bundled_orders = [o.key for o in ordered]
        if own:
            finding.guided, finding.guidance_why = True, f"the order carries the with-imaging code {own[0].code}"
        elif ordered:
            finding.guided = True
            finding.guidance_why = f"guidance is ordered in {ordered[0].key} ({guidance_code(book, ordered[0])})"
        elif text_claim:
            finding.guided, finding.guidance_why = True, f"\"{text_claim[0]}\" in {text_claim[1]}"
    else:
        other_side: list[str] = []
        study, how, unsaved = qualifying_study(pack, act, evidence, side=finding.side, other_side=other_side)
        if study is not None:
            finding.guided, finding.guidance_study = True, study
            modality = _guidance_evidence(pack, study, pack.guidance_modalities)
            finding.guidance_why = f"{study.key} ({modality}, {study.instances} saved images) counts because {how}"
            if finding.side is None:  # the guidance study's series say which side was done
                finding.side, finding.side_why = study_side(pack, study)
        else:
            finding.guidance_claimed = bool(text_claim) or unsaved or stage == NOT_PERFORMED
            if text_claim:
                finding.guidance_why = (f"\"{text_claim[0]}\" in {text_claim[1]}, but no linked ImagingStudy has "
                                        f"saved images")
            elif unsaved:
                finding.guidance_why = "a linked guidance ImagingStudy has no saved images"
            else:
                finding.guidance_why = ("no ImagingStudy with saved images is linked to the procedure or in its "
                                        "time window")
            if other_side:
                finding.guidance_why += (f"; {', '.join(other_side)} shows the other side, so it guided another "
                                         f"procedure")

    if stage == NOT_PERFORMED:
        reason = pack.not_performed_reason.search(act.status_reason) if act.status_reason else None
        if reason is None and reading is not None:
            reason = reading.dry_tap.quote if reading.dry_tap is not None else None
        elif reason is None:
            match = _text_match(act, pack.not_performed_reason)
            reason = match[0] if match else None
        if reason and pack.not_performed_code:
            finding.entry = pack.codes[pack.not_performed_code]
            finding.approach_why = f"not done: \"{reason}\""
        return finding
    finding.entry = pack.code_for(approach.id, finding.guided)
    if finding.entry is not None:
        finding.guidance_lines = separate_guidance(book, pack, finding, evidence, guidance_orders)
    return finding


def separate_guidance(book: RuleBook, pack: RulePack, finding: Finding, evidence: Evidence,
                      guidance_orders: list[ActFacts]) -> list[tuple[str, str]]:
    """Guidance codes billed as their own line with this subject's code: a study of the code's modalities with
    saved images guided the procedure, or (order-sign) the guidance is ordered with it."""
    found = []
    for spec in pack.separate_guidance_for(finding.entry.code):
        if finding.stage == ORDER:
            order = next((o for o in guidance_orders if guidance_code(book, o) == spec.code), None)
            if order is not None:
                found.append((spec.code, f"it is ordered in {order.key}"))
            continue
        study, how, _ = qualifying_study(pack, finding.act, evidence, spec.modalities, side=finding.side)
        if study is not None:
            modality = ", ".join(sorted(study.modalities & spec.modalities))
            found.append((spec.code, f"{study.key} ({modality}, {study.instances} saved images) guided it: {how}"))
    return found
