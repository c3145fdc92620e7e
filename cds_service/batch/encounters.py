"""One patient's staged resources split into encounters, each as the ClinicalData of an encounter-discharge
call (the same prefetch keys the hook would have had), plus what was billed for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from ..evidence.values import listed, reference_key
from ..fhir.access import ClinicalData, KeyResult, Outcome
from .routing import URN_UUID
from .staging import Row

# resource type -> the encounter-discharge prefetch key it would have come in (extra keys for what the hook
# does not prefetch but the evidence layer reads when present).
PREFETCH_KEY = {
    "Patient": "patient", "Encounter": "encounter", "Condition": "conditions", "Procedure": "procedures",
    "ImagingStudy": "imagingStudies", "Observation": "observations", "DocumentReference": "documents",
    "Coverage": "coverage", "ServiceRequest": "serviceRequests", "MedicationAdministration": "medications",
}
BILLING_TYPES = ("Claim", "ExplanationOfBenefit")
# Patient-level resources that belong to every encounter of the patient.
SHARED_TYPES = ("Patient", "Coverage")


@dataclass
class EncounterGroup:
    key: str | None  # "Encounter/x"; None for a patient's resources that name no encounter
    resources: list[dict] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)  # Claims/EOBs with at least one item for this encounter
    where: dict[str, str] = field(default_factory=dict)  # "Type/id" -> "file:line" (evidence provenance)

    @property
    def encounter_id(self) -> str | None:
        return self.key.split("/", 1)[1] if self.key else None


def encounter_of(resource: dict) -> str | None:
    rtype = resource.get("resourceType")
    if rtype == "Encounter":
        rid = resource.get("id")
        return f"Encounter/{rid}" if isinstance(rid, str) else None
    if rtype == "DocumentReference":
        context = resource.get("context")
        refs = listed(context, "encounter") if isinstance(context, dict) else []
        return next((k for k in map(reference_key, refs) if k and k.startswith("Encounter/")), None)
    for name in ("encounter", "context"):  # Synthea's early R4 exporter and MedicationAdministration: context
        key = reference_key(resource.get(name))
        if key and key.startswith("Encounter/"):
            return key
    return None


def claim_encounters(claim: dict, procedure_encounters: dict[str, str]) -> list[str]:
    """The encounters a Claim/EOB bills for: its items' encounters, else its procedures' encounters."""
    found = [k for item in listed(claim, "item") if isinstance(item, dict)
             for k in map(reference_key, listed(item, "encounter")) if k and k.startswith("Encounter/")]
    if not found:
        for procedure in listed(claim, "procedure"):
            ref = reference_key(procedure.get("procedureReference")) if isinstance(procedure, dict) else None
            if ref in procedure_encounters:
                found.append(procedure_encounters[ref])
    return list(dict.fromkeys(found))


def _local_references(value: object, types: dict[str, str]) -> object:
    """`urn:uuid:<id>` references (as Synthea writes them) turned into `Type/<id>` for ids of this patient."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith(URN_UUID):
                uid = item[len(URN_UUID):]
                item = f"{types[uid]}/{uid}" if uid in types else item
            else:
                item = _local_references(item, types)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_local_references(v, types) for v in value]
    return value


def _day(value: object) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _claim_day(claim: dict) -> str | None:
    period = claim.get("billablePeriod") if isinstance(claim.get("billablePeriod"), dict) else {}
    return _day(period.get("start")) or _day(claim.get("created"))


def split_patient(rows: list[Row], file_names: dict[int, str]) -> list[EncounterGroup]:
    """The patient's encounter groups, in first-seen order."""
    groups: dict[str | None, EncounterGroup] = {}
    shared: list[dict] = []
    unlinked_conditions: list[dict] = []
    billing: list[dict] = []
    where: dict[str, str] = {}
    resources = [(rtype, file_id, line, orjson.loads(body)) for rtype, file_id, line, body in rows]
    if any(URN_UUID.encode() in body for _, _, _, body in rows):
        types = {r.get("id"): rtype for rtype, _, _, r in resources if isinstance(r.get("id"), str)}
        resources = [(rtype, f, n, _local_references(r, types)) for rtype, f, n, r in resources]
    encounter_days: dict[str, str] = {}
    for rtype, file_id, line, resource in resources:
        key = f"{rtype}/{resource.get('id')}"
        first = key not in where
        where.setdefault(key, f"{file_names.get(file_id, file_id)}:{line}")
        if rtype in BILLING_TYPES:
            if first:  # a claim listed twice in the export is billed once
                billing.append(resource)
        elif rtype in SHARED_TYPES:
            shared.append(resource)
        else:
            encounter = encounter_of(resource)
            if encounter is None and rtype == "Condition":
                unlinked_conditions.append(resource)  # the engine weighs them for every encounter
                continue
            group = groups.get(encounter)
            if group is None:
                group = groups[encounter] = EncounterGroup(encounter)
            group.resources.append(resource)
            if rtype == "Encounter" and encounter:
                period = resource.get("period") if isinstance(resource.get("period"), dict) else {}
                day = _day(period.get("start"))
                if day:
                    encounter_days.setdefault(day, encounter)
    procedure_encounters = {
        f"Procedure/{r.get('id')}": g.key for g in groups.values() if g.key
        for r in g.resources if r.get("resourceType") == "Procedure"
    }
    for claim in billing:
        encounters = claim_encounters(claim, procedure_encounters)
        if not encounters:  # no item or procedure names an encounter: the encounter of its day of service
            day = _claim_day(claim)
            encounters = [encounter_days[day]] if day in encounter_days else []
        for encounter in encounters:
            group = groups.get(encounter)
            if group is None:
                group = groups[encounter] = EncounterGroup(encounter)
            group.claims.append(claim)
    for group in groups.values():
        group.resources.extend(shared)
        group.resources.extend(unlinked_conditions)
        group.where = where
    return list(groups.values())


def clinical_data(group: EncounterGroup) -> ClinicalData:
    by_key: dict[str, list[dict]] = {}
    for resource in group.resources:
        by_key.setdefault(PREFETCH_KEY[resource["resourceType"]], []).append(resource)
    results = {key: KeyResult(key, Outcome.PROVIDED, found) for key, found in by_key.items()}
    return ClinicalData(results=results)
