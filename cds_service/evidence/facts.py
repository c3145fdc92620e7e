"""Evidence: the facts the rules read, built once per call from the checked resources, with provenance.

Nothing here knows a procedure family: it reads codes, times, sites, texts and links generically.
Resources are indexed once (by key, by encounter, by link) so that rules never scan lists repeatedly.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from ..fhir.access import ClinicalData
from .notes import MAX_NOTE_BYTES, NoteText, note_text
from .values import (
    ICD10CM,
    SNOMED,
    Coded,
    annotation_texts,
    codings,
    concept_text,
    key_of,
    listed,
    local_day,
    parse_instant,
    reference_key,
    system_name,
)

INACTIVE_CONDITION = {"inactive", "remission", "resolved"}
UNCONFIRMED_CONDITION = {"refuted", "entered-in-error"}
IGNORED_STATUSES = {"entered-in-error", "revoked"}
# The code systems a diagnosis is read in (the packs list ICD-10-CM prefixes and SNOMED CT concepts).
DIAGNOSIS_SYSTEMS = frozenset({ICD10CM, SNOMED})
DICOM_LATERALITY = {"R": "right", "L": "left", "B": "bilateral"}
# Encounter.class as EHRs send it: v3 ActCode, or another system (or none) with a word for the same class.
ENCOUNTER_CLASS_WORDS = {
    "INPATIENT": "IMP", "INPATIENT ENCOUNTER": "IMP", "EMERGENCY": "EMER", "ACUTE": "ACUTE",
    "OBSERVATION": "OBSENC", "OBSERVATION ENCOUNTER": "OBSENC", "SHORT STAY": "SS", "AMBULATORY": "AMB",
    "OUTPATIENT": "AMB", "WELLNESS": "AMB", "HOME HEALTH": "HH", "VIRTUAL": "VR",
}


@dataclass
class ActFacts:
    """A Procedure (something done) or a ServiceRequest (something ordered), as the rules see it."""

    key: str
    resource: dict
    status: str
    codings: tuple[Coded, ...]
    code_text: str
    encounter: str | None
    start: datetime | None
    end: datetime | None
    day: str | None
    body_sites: tuple[Coded, ...]
    body_site_text: str
    performer: str | None
    focal_device: bool
    status_reason: str
    reasons: tuple[tuple[Coded, str], ...]  # (coding, the text of its CodeableConcept)
    reason_refs: tuple[str, ...]  # `Type/id`, or `Type/id#contained-id` for a contained resource
    based_on: tuple[str, ...]
    fields_present: frozenset[str]
    texts: list[NoteText] = field(default_factory=list)

    @property
    def is_order(self) -> bool:
        return self.key.startswith("ServiceRequest/")


@dataclass(frozen=True)
class ImagingFacts:
    key: str
    encounter: str | None
    started: datetime | None
    modalities: frozenset[str]
    instances: int
    procedure_ref: str | None
    based_on: tuple[str, ...]
    # Side and site as EHRs send them: series.laterality and series.bodySite (codings and their words).
    laterality: tuple[Coded, ...] = ()
    body_sites: tuple[Coded, ...] = ()
    site_text: str = ""
    procedure_codes: tuple[Coded, ...] = ()  # ImagingStudy.procedureCode (CPT, LOINC, RadLex, ...)

    @property
    def recorded_images(self) -> bool:
        return self.instances >= 1


class Diagnosis(NamedTuple):
    code: Coded
    source: str  # "Condition/c1" or "Procedure/p1 reasonCode"
    words: str = ""  # the concept's text, for a coding without a display

    @property
    def label(self) -> str:
        """The diagnosis in its own system and words: '<system name> <code> <display or text>'."""
        words = self.code.display or self.words
        return f"{system_name(self.code.system)} {self.code.code}" + (f" {words}" if words else "")


@dataclass(frozen=True)
class VolumeObservation:
    key: str
    value: float
    unit: str


@dataclass(frozen=True)
class MedicationFacts:
    """A MedicationAdministration that is part of a procedure: the drug's words and the dose given."""

    key: str
    drug_text: str
    dose_value: float | None
    dose_unit: str


@dataclass
class Evidence:
    """Everything one hook call tells the rules, indexed."""

    focus: list[ActFacts]  # the subjects this hook codes (draft orders, the note's procedures, the encounter's)
    acts: list[ActFacts]  # every Procedure/ServiceRequest read, focus included
    encounter_class: dict[str, str]  # Encounter/x -> class code
    encounter_key: str | None
    diagnoses_by_ref: dict[str, list[Diagnosis]]
    active_diagnoses: list[Diagnosis]
    volumes_by_act: dict[str, list[VolumeObservation]]
    payor_names: list[str]
    problems: list[str]  # what was skipped or unread, for the cards
    # The patient's Procedures of other encounters read for the rules that look back (courses of treatment).
    history: list[ActFacts] = field(default_factory=list)
    medications_by_act: dict[str, list[MedicationFacts]] = field(default_factory=dict)
    _imaging_by_ref: dict[str, list[ImagingFacts]] = field(default_factory=dict)
    _imaging_by_based_on: dict[str, list[ImagingFacts]] = field(default_factory=dict)
    _imaging_timeline: dict[str | None, tuple[list[float], list[ImagingFacts]]] = field(default_factory=dict)

    def imaging_linked_to(self, act: ActFacts) -> list[tuple[ImagingFacts, str]]:
        """Studies linked to `act` by procedureReference or a shared basedOn order, with how they link."""
        found = [(s, f"its procedureReference points to {act.key}") for s in self._imaging_by_ref.get(act.key, [])]
        for order in act.based_on:
            found.extend((s, f"both are based on {order}") for s in self._imaging_by_based_on.get(order, []))
        return found

    def imaging_between(self, encounter: str | None, start: datetime, end: datetime) -> list[ImagingFacts]:
        """Studies of `encounter` whose `started` lies in [start, end] (bisect on a sorted timeline)."""
        times, studies = self._imaging_timeline.get(encounter, ([], []))
        lo = bisect_left(times, start.timestamp())
        hi = bisect_right(times, end.timestamp())
        return studies[lo:hi]

    def diagnoses_for(self, act: ActFacts) -> list[Diagnosis]:
        found = [Diagnosis(c, f"{act.key} reasonCode", w) for c, w in act.reasons if c.system in DIAGNOSIS_SYSTEMS]
        for ref in act.reason_refs:
            found.extend(self.diagnoses_by_ref.get(ref, []))
        return found + self.active_diagnoses


def _period(resource: dict, *names: str) -> tuple[datetime | None, datetime | None, str | None]:
    for name in names:
        value = resource.get(name)
        if isinstance(value, dict):  # a Period
            start, end = parse_instant(value.get("start")), parse_instant(value.get("end"))
            if start or end:
                return start or end, end or start, local_day(value.get("start") or value.get("end"))
        elif isinstance(value, str):
            instant = parse_instant(value)
            if instant:
                return instant, instant, value[:10] if len(value) >= 10 else None
    return None, None, None


def _performer(resource: dict) -> str | None:
    for performer in listed(resource, "performer"):
        if isinstance(performer, dict):
            ref = reference_key(performer.get("actor")) or reference_key(performer)
            if ref:
                return ref
    return reference_key(resource.get("requester"))


def concept_text_only(concept: object) -> str:
    return concept["text"] if isinstance(concept, dict) and isinstance(concept.get("text"), str) else ""


def _local_reference(resource: dict, reference: object) -> str | None:
    """`Type/id` of a reference, or `Type/id#cid` for a reference to a resource contained in `resource`."""
    target = reference.get("reference") if isinstance(reference, dict) else None
    if isinstance(target, str) and target.startswith("#") and len(target) > 1:
        return f"{key_of(resource)}{target}"
    return reference_key(reference)


def contained_conditions(resource: dict) -> list[tuple[str, dict]]:
    """(`Type/id#cid`, Condition) for each Condition contained in `resource` (Epic and Oracle Health send
    order reasons this way)."""
    return [
        (f"{key_of(resource)}#{item['id']}", item) for item in listed(resource, "contained")
        if isinstance(item, dict) and item.get("resourceType") == "Condition" and isinstance(item.get("id"), str)
    ]


def read_act(data: ClinicalData, resource: dict) -> ActFacts:
    """act_facts of a resource of `data`, kept for collect_evidence on the same data: a look at the acts made
    before the evidence (coding.py, whether a course needs a history read) does not build them twice."""
    memo: dict[int, ActFacts] = data.__dict__.setdefault("_acts_read", {})
    act = memo.get(id(resource))
    if act is None or act.resource is not resource:  # `is`: an id can be reused once a resource is gone
        act = memo[id(resource)] = act_facts(resource)
    return act


def _take_act(data: ClinicalData, resource: dict) -> ActFacts:
    # Taken, not shared: collect_evidence adds note texts to the act, and a second collection must start clean.
    act = data.__dict__.get("_acts_read", {}).pop(id(resource), None)
    return act if act is not None and act.resource is resource else act_facts(resource)


def act_facts(resource: dict) -> ActFacts:
    start, end, day = _period(resource, "performedPeriod", "performedDateTime", "occurrencePeriod",
                              "occurrenceDateTime")
    body_sites = [site for site in listed(resource, "bodySite") if isinstance(site, dict)]
    return ActFacts(
        key=key_of(resource),
        resource=resource,
        status=resource.get("status") if isinstance(resource.get("status"), str) else "unknown",
        codings=codings(resource.get("code")),
        code_text=concept_text(resource.get("code")),
        # Synthea's early R4 exporter still writes the STU3 name `context`.
        encounter=reference_key(resource.get("encounter")) or reference_key(resource.get("context")),
        start=start,
        end=end,
        day=day,
        body_sites=tuple(c for site in body_sites for c in codings(site)),
        body_site_text=" | ".join(concept_text(site) for site in body_sites),
        performer=_performer(resource),
        focal_device=bool(listed(resource, "focalDevice")),
        status_reason=concept_text(resource.get("statusReason")),
        reasons=tuple((c, concept_text_only(reason)) for reason in listed(resource, "reasonCode")
                      for c in codings(reason)),
        reason_refs=tuple(r for r in (_local_reference(resource, x) for x in listed(resource, "reasonReference"))
                          if r),
        based_on=tuple(r for r in (reference_key(x) for x in listed(resource, "basedOn")) if r),
        fields_present=frozenset(name for name, value in resource.items() if value not in (None, [], {}, "")),
        # The same cap as note attachments: a longer annotation is not procedure documentation.
        texts=[
            NoteText(f"{key_of(resource)} note", text)
            for text in annotation_texts(resource)
            if len(text) <= MAX_NOTE_BYTES
        ],
    )


def _imaging(resource: dict) -> ImagingFacts:
    modalities = {c.code.upper() for c in (x for m in listed(resource, "modality") for x in codings(m))}
    instances = resource.get("numberOfInstances") if isinstance(resource.get("numberOfInstances"), int) else 0
    series_count = 0
    laterality: list[Coded] = []
    sites: list[Coded] = []
    site_words: list[str] = []
    for series in listed(resource, "series"):
        if not isinstance(series, dict):
            continue
        modalities.update(c.code.upper() for c in codings(series.get("modality")))
        count = series.get("numberOfInstances")
        series_count += count if isinstance(count, int) and count > 0 else len(listed(series, "instance"))
        # R4 series.laterality and series.bodySite are Codings; words come from their displays.
        laterality.extend(codings(series.get("laterality")))
        sites.extend(codings(series.get("bodySite")))
        site_words.extend(c.display for c in (*codings(series.get("laterality")), *codings(series.get("bodySite")))
                          if c.display)
        # PACS-fed servers may copy the DICOM Image Laterality value (R, L, B) without a display.
        site_words.extend(DICOM_LATERALITY.get(c.code.upper(), "") for c in codings(series.get("laterality"))
                          if not c.display)
    return ImagingFacts(
        key=key_of(resource),
        encounter=reference_key(resource.get("encounter")),
        started=parse_instant(resource.get("started")),
        modalities=frozenset(modalities),
        instances=max(instances, series_count),
        procedure_ref=reference_key(resource.get("procedureReference")),
        based_on=tuple(r for r in (reference_key(x) for x in listed(resource, "basedOn")) if r),
        laterality=tuple(laterality),
        body_sites=tuple(sites),
        site_text=" | ".join(site_words),
        procedure_codes=tuple(c for concept in listed(resource, "procedureCode") for c in codings(concept)),
    )


def _condition_diagnoses(condition: dict, key: str | None = None) -> list[Diagnosis]:
    key = key or key_of(condition)
    words = concept_text_only(condition.get("code"))
    return [Diagnosis(c, key, words) for c in codings(condition.get("code")) if c.system in DIAGNOSIS_SYSTEMS]


def encounter_class_code(encounter: dict) -> str | None:
    """The encounter's class as a v3 ActCode code: the code itself, whatever its system (EHRs use local
    systems with the same codes), or the ActCode for a word such as 'inpatient' or 'emergency'."""
    for coded in codings(encounter.get("class")):
        code = coded.code.upper()
        return ENCOUNTER_CLASS_WORDS.get(code) or ENCOUNTER_CLASS_WORDS.get(coded.display.upper()) or code
    return None


def _condition_active(condition: dict) -> bool:
    clinical = {c.code for c in codings(condition.get("clinicalStatus"))}
    verification = {c.code for c in codings(condition.get("verificationStatus"))}
    return not (clinical & INACTIVE_CONDITION) and not (verification & UNCONFIRMED_CONDITION)


def _volume(observation: dict) -> VolumeObservation | None:
    quantity = observation.get("valueQuantity")
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return None
    unit = quantity.get("code") if isinstance(quantity.get("code"), str) else quantity.get("unit")
    if not isinstance(unit, str):
        return None
    return VolumeObservation(key_of(observation), float(quantity["value"]), unit)


def _payor_names(coverages: list[dict]) -> list[str]:
    names = []
    for coverage in coverages:
        if coverage.get("status") not in (None, "active"):
            continue
        for payor in listed(coverage, "payor"):
            if isinstance(payor, dict):
                names.extend(v for v in (payor.get("display"), payor.get("reference")) if isinstance(v, str))
                identifier = payor.get("identifier")
                if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
                    names.append(identifier["value"])
    return names


def collect_evidence(evidence_kind: str, context: dict, data: ClinicalData) -> Evidence:
    """Facts for one call. `evidence_kind`: 'orders', 'note' or 'encounter' (from the service declaration)."""
    problems = list(data.skipped)
    problems.extend(f"{result.key}: {result.problem or 'not available'}" for result in data.unread)
    encounter_id = context.get("encounterId")
    encounter_key = f"Encounter/{encounter_id}" if isinstance(encounter_id, str) and encounter_id else None

    # Note texts: the note being signed and the encounter's other documents, each read once.
    texts_by_act: dict[str, list[NoteText]] = {}
    unlinked_texts: list[NoteText] = []
    for document in data.of_type("DocumentReference"):
        if document.get("status") == "entered-in-error":
            continue
        text, problem = note_text(document)
        if problem:
            problems.append(f"{key_of(document)}: {problem}; its text was not used")
        related = related_acts(document)
        if text is None:
            continue
        if len(related) != 1:
            text = NoteText(text.source, text.text, shared=True)
        if related:
            for ref in related:
                texts_by_act.setdefault(ref, []).append(text)
        else:
            unlinked_texts.append(text)

    acts: list[ActFacts] = []
    contained: list[tuple[str, dict]] = []
    for rtype in ("Procedure", "ServiceRequest"):
        for resource in data.of_type(rtype):
            if resource.get("status") in IGNORED_STATUSES:
                continue
            act = _take_act(data, resource)
            if any(len(text) > MAX_NOTE_BYTES for text in annotation_texts(resource)):
                problems.append(f"{act.key}: a note is too large to read; its text was not used")
            act.texts.extend(texts_by_act.get(act.key, ()))
            same_encounter = act.encounter is None or encounter_key is None or act.encounter == encounter_key
            if unlinked_texts and same_encounter and not act.is_order:
                act.texts.extend(unlinked_texts)
            acts.append(act)
            contained.extend(contained_conditions(resource))

    focus = _focus(evidence_kind, context, data, acts, encounter_key)

    encounter_class = {}
    for encounter in data.of_type("Encounter"):
        code = encounter_class_code(encounter)
        if code:
            encounter_class[key_of(encounter)] = code
    if encounter_key is None and len(encounter_class) == 1:
        encounter_key = next(iter(encounter_class))

    diagnoses_by_ref: dict[str, list[Diagnosis]] = {}
    active: list[Diagnosis] = []
    for condition in data.of_type("Condition"):
        found = _condition_diagnoses(condition)
        # A refuted or mistaken Condition supports nothing, even when an order cites it as its reason.
        verification = {c.code for c in codings(condition.get("verificationStatus"))}
        diagnoses_by_ref[key_of(condition)] = [] if verification & UNCONFIRMED_CONDITION else found
        condition_encounter = reference_key(condition.get("encounter"))
        if _condition_active(condition) and (encounter_key is None or condition_encounter in (None, encounter_key)):
            active.extend(found)
    for key, condition in contained:  # an order's own reasons: used whatever their clinical status
        diagnoses_by_ref[key] = _condition_diagnoses(condition, key)

    volumes: dict[str, list[VolumeObservation]] = {}
    for observation in data.of_type("Observation"):
        if observation.get("status") in IGNORED_STATUSES:
            continue
        volume = _volume(observation)
        if volume is None:
            continue
        for ref in (reference_key(x) for x in listed(observation, "partOf")):
            if ref:
                volumes.setdefault(ref, []).append(volume)

    evidence = Evidence(
        focus=focus,
        acts=acts,
        encounter_class=encounter_class,
        encounter_key=encounter_key,
        diagnoses_by_ref=diagnoses_by_ref,
        active_diagnoses=active,
        volumes_by_act=volumes,
        payor_names=_payor_names(data.of_type("Coverage")),
        problems=problems,
        history=[
            act_facts(r) for r in data.history if r.get("status") not in IGNORED_STATUSES
        ],
    )
    _index_imaging(evidence, data.of_type("ImagingStudy"))
    _index_medications(evidence, data.of_type("MedicationAdministration"))
    return evidence


def _medication(resource: dict) -> MedicationFacts:
    drug = concept_text(resource.get("medicationCodeableConcept"))
    reference = resource.get("medicationReference")
    if not drug and isinstance(reference, dict) and isinstance(reference.get("display"), str):
        drug = reference["display"]
    dosage = resource.get("dosage") if isinstance(resource.get("dosage"), dict) else {}
    dose = dosage.get("dose") if isinstance(dosage.get("dose"), dict) else {}
    value = dose.get("value") if isinstance(dose.get("value"), int | float) and not isinstance(
        dose.get("value"), bool) else None
    unit = dose.get("code") if isinstance(dose.get("code"), str) else dose.get("unit")
    if isinstance(dosage.get("text"), str):
        drug = f"{drug} | {dosage['text']}" if drug else dosage["text"]
    return MedicationFacts(key_of(resource), drug, float(value) if value is not None else None,
                           unit if isinstance(unit, str) else "")


def _index_medications(evidence: Evidence, administrations: list[dict]) -> None:
    """Drugs given as part of a procedure (MedicationAdministration.partOf), for drug supply lines."""
    for resource in administrations:
        if resource.get("status") in ("not-done", "entered-in-error", "stopped"):
            continue
        medication = _medication(resource)
        for ref in (reference_key(x) for x in listed(resource, "partOf")):
            if ref:
                evidence.medications_by_act.setdefault(ref, []).append(medication)


def related_acts(document: dict) -> list[str]:
    """The `Type/id` keys a DocumentReference documents (its `context.related`)."""
    context = document.get("context")
    if not isinstance(context, dict):
        return []
    return [r for r in (reference_key(x) for x in listed(context, "related")) if r]


def _focus(kind: str, context: dict, data: ClinicalData, acts: list[ActFacts], encounter: str | None) -> list:
    if kind == "orders":
        drafts = {key_of(r) for r in data.context_resources if r.get("resourceType") == "ServiceRequest"}
        return [a for a in acts if a.key in drafts]
    if kind == "note":
        note = context.get("note") if isinstance(context.get("note"), dict) else {}
        related = set(related_acts(note))
        return [a for a in acts if a.key in related]
    return [a for a in acts if not a.is_order and (encounter is None or a.encounter in (None, encounter))]


def _index_imaging(evidence: Evidence, studies: list[dict]) -> None:
    timeline: dict[str | None, list[tuple[float, ImagingFacts]]] = {}
    for resource in studies:
        if resource.get("status") in ("cancelled", "entered-in-error"):
            continue
        study = _imaging(resource)
        if study.procedure_ref:
            evidence._imaging_by_ref.setdefault(study.procedure_ref, []).append(study)
        for order in study.based_on:
            evidence._imaging_by_based_on.setdefault(order, []).append(study)
        if study.started is not None:
            timeline.setdefault(study.encounter, []).append((study.started.timestamp(), study))
    for encounter, items in timeline.items():
        items.sort(key=lambda item: item[0])
        evidence._imaging_timeline[encounter] = ([t for t, _ in items], [s for _, s in items])


def window(start: datetime, end: datetime | None, minutes_before: int) -> tuple[datetime, datetime]:
    """The guidance window: from `minutes_before` before the start to the end (one time-window helper)."""
    return start - timedelta(minutes=minutes_before), end or start
