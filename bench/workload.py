"""Benchmark requests: the coding engineer's fixtures, padded with realistic companions to a given size.

A fixture from ``fhir_fixtures/requests/`` holds the resources that decide the coding (the procedure, its
imaging, the diagnosis, the note). A real encounter carries much more that the rules must read past:
vital signs every quarter hour, lab results, a problem list, progress notes, routine procedures, earlier
radiographs, lab orders signed together with the procedure. ``padded_call`` adds those, deterministically
(same ids, values and times on every run), so that the encounter holds exactly ``total`` resources.

The companions are chosen not to change the coding: no pleural or ascites diagnoses, no guidance-capable
imaging near the procedure, neutral note text.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cds_service.services import SERVICES, ServiceDefinition

ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = ROOT / "fhir_fixtures" / "requests"
# The everyday case of each hook among the coding fixtures (the edge cases are for the engine's tests).
PREFERRED_FIXTURES = {
    "order-sign": "thoracentesis-with-guidance-order.order-sign.json",
    "org.procedure-coding.note-sign": "thoracentesis-us-guided.note-sign.json",
    "encounter-discharge": "thoracentesis-bilateral.encounter-discharge.json",
}

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DEFAULT_ANCHOR = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# LOINC code, display, UCUM unit, low value, spread: vital signs charted every 15 minutes.
VITALS = (
    ("8867-4", "Heart rate", "/min", 62, 40),
    ("9279-1", "Respiratory rate", "/min", 12, 14),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 88, 11),
    ("8310-5", "Body temperature", "Cel", 36.1, 2.2),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 98, 60),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 55, 35),
)
LABS = (
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 131, 12),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.8),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 8.5, 6),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 90, 300),
    ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 0.9, 1.2),
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 140),
)
# A long-standing problem list with nothing that bears on pleural or peritoneal procedures.
COMORBIDITIES = (
    ("I10", "Essential (primary) hypertension"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("N18.30", "Chronic kidney disease, stage 3 unspecified"),
    ("I48.91", "Unspecified atrial fibrillation"),
    ("E03.9", "Hypothyroidism, unspecified"),
    ("G47.33", "Obstructive sleep apnea (adult) (pediatric)"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("M81.0", "Age-related osteoporosis without current pathological fracture"),
    ("E66.9", "Obesity, unspecified"),
    ("F17.210", "Nicotine dependence, cigarettes, uncomplicated"),
    ("D64.9", "Anemia, unspecified"),
    ("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("H25.9", "Unspecified age-related cataract"),
)
ROUTINE_PROCEDURES = (
    ("428191000124101", "Documentation of current medications"),
    ("430193006", "Medication reconciliation"),
    ("104091002", "Hemoglobin / Hematocrit / Platelet count"),
    ("171207006", "Depression screening"),
)
LAB_ORDERS = (
    ("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
    ("58410-2", "CBC panel - Blood by Automated count"),
    ("5902-2", "Prothrombin time (PT)"),
    ("2532-0", "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma"),
    ("2885-2", "Protein [Mass/volume] in Serum or Plasma"),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma"),
    ("2339-0", "Glucose [Mass/volume] in Blood"),
)
PROGRESS_NOTE = (
    "Progress note. Patient seen on rounds, resting comfortably. Tolerating diet. Medications reviewed "
    "and continued. Plan discussed with the patient and nursing staff."
)

# Companion kinds, repeated in this order until the encounter holds the requested number of resources:
# mostly charted vital signs, as in a real inpatient stay, with labs, problems, notes and the odd
# routine procedure or earlier radiograph.
ENCOUNTER_PATTERN = (
    "vital", "vital", "vital", "lab", "vital", "condition", "vital", "vital", "document", "vital",
    "vital", "lab", "vital", "procedure", "vital", "condition", "vital", "imaging", "vital", "lab",
)
ORDER_LAB_ORDERS = len(LAB_ORDERS)  # lab orders signed together with the procedure order

KEY_OF_KIND = {
    "vital": "observations", "lab": "observations", "condition": "conditions", "document": "documents",
    "procedure": "procedures", "imaging": "imagingStudies", "coverage": "coverage",
}


@dataclass(frozen=True)
class BenchCall:
    """One benchmark request: the service it goes to, the body, and how many resources it carries."""

    case: str
    service: ServiceDefinition
    call: dict
    resources: int

    @property
    def path(self) -> str:
        return f"/cds-services/{self.service.id}"

    def body(self) -> bytes:
        return json.dumps(self.call, separators=(",", ":")).encode()


def service_for_hook(hook: str) -> ServiceDefinition:
    for service in SERVICES:
        if service.hook == hook and not service.preview:
            return service
    raise ValueError(f"no service answers hook {hook!r}")


def _bundle_resources(value: object) -> list[dict]:
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in value.get("entry") or [] if isinstance(e, dict) and "resource" in e]
    return [value]


def prefetch_resources(call: dict) -> list[dict]:
    return [r for value in (call.get("prefetch") or {}).values() for r in _bundle_resources(value)]


def context_resources(call: dict) -> list[dict]:
    context = call.get("context") or {}
    found = _bundle_resources(context.get("draftOrders"))
    if isinstance(context.get("note"), dict):
        found.append(context["note"])
    return found


def _fixture_rank(path: Path, call: dict) -> tuple:
    service = service_for_hook(call["hook"])
    prefetch = call.get("prefetch") or {}
    complete = all(isinstance(prefetch.get(spec.key), dict) for spec in service.prefetch if spec.required)
    size = len(prefetch_resources(call)) + len(context_resources(call))
    # Complete prefetch first, then the richest request, then the name (deterministic).
    return (not complete, -size, path.name)


def find_fixture(hook: str, fixtures_dir: Path = FIXTURES_DIR) -> tuple[Path, dict]:
    """The request fixture for this hook: the everyday one when it is there, else the richest one."""
    preferred = PREFERRED_FIXTURES.get(hook)
    if preferred and (fixtures_dir / preferred).is_file():
        call = json.loads((fixtures_dir / preferred).read_text(encoding="utf-8"))
        if isinstance(call, dict) and call.get("hook") == hook:
            return fixtures_dir / preferred, call
    found: list[tuple[tuple, Path, dict]] = []
    for path in sorted(fixtures_dir.rglob("*.json")):
        try:
            call = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(call, dict) and call.get("hook") == hook and isinstance(call.get("context"), dict):
            found.append((_fixture_rank(path, call), path, call))
    if not found:
        raise FileNotFoundError(f"no request fixture for hook {hook!r} under {fixtures_dir}")
    _, path, call = min(found, key=lambda item: item[0])
    return path, call


def _bare(reference_or_id: str) -> str:
    return reference_or_id.rsplit("/", 1)[-1]


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def anchor_time(resources: list[dict]) -> datetime:
    """The earliest procedure or imaging time of the fixture: companions are dated before it."""
    times = []
    for resource in resources:
        for name in ("performedDateTime", "started", "occurrenceDateTime"):
            parsed = _parse_time(resource.get(name))
            if parsed:
                times.append(parsed)
        period = resource.get("performedPeriod")
        if isinstance(period, dict) and (parsed := _parse_time(period.get("start"))):
            times.append(parsed)
    return min(times) if times else DEFAULT_ANCHOR


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cc(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


class Companions:
    """Deterministic resources of one patient's encounter; the n-th of a kind is always the same."""

    def __init__(self, patient_id: str, encounter_id: str, anchor: datetime):
        self.patient = {"reference": f"Patient/{patient_id}"}
        self.encounter = {"reference": f"Encounter/{encounter_id}"}
        self.anchor = anchor
        self.counts: dict[str, int] = {}

    def _next(self, kind: str) -> int:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.counts[kind]

    def make(self, kind: str) -> dict:
        return getattr(self, kind)(self._next(kind))

    def _observation(self, n: int, kind: str, table: tuple, category: str, every: timedelta) -> dict:
        code, display, unit, low, spread = table[(n - 1) % len(table)]
        # A value that wanders inside the range, the same on every run.
        value = low + spread * (((n * 37) % 100) / 100)
        value = round(value, 1) if isinstance(low, float) or spread < 5 else int(value)
        return {
            "resourceType": "Observation",
            "id": f"bench-{kind}-{n:04d}",
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
            "code": _cc(LOINC, code, display),
            "subject": self.patient,
            "encounter": self.encounter,
            "effectiveDateTime": _stamp(self.anchor - every * ((n - 1) // len(table) + 1)),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }

    def vital(self, n: int) -> dict:
        return self._observation(n, "vital", VITALS, "vital-signs", timedelta(minutes=15))

    def lab(self, n: int) -> dict:
        return self._observation(n, "lab", LABS, "laboratory", timedelta(hours=6))

    def condition(self, n: int) -> dict:
        code, display = COMORBIDITIES[(n - 1) % len(COMORBIDITIES)]
        return {
            "resourceType": "Condition",
            "id": f"bench-condition-{n:04d}",
            "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
            "verificationStatus": _cc(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"
            ),
            "category": [_cc(
                "http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item"
            )],
            "code": _cc(ICD10CM, code, display),
            "subject": self.patient,
            "encounter": self.encounter,
            "recordedDate": _stamp(self.anchor - timedelta(days=30 * n)),
        }

    def document(self, n: int) -> dict:
        return {
            "resourceType": "DocumentReference",
            "id": f"bench-document-{n:04d}",
            "status": "current",
            "type": _cc(LOINC, "11506-3", "Progress note"),
            "subject": self.patient,
            "date": _stamp(self.anchor - timedelta(hours=12 * n)),
            "content": [{"attachment": {
                "contentType": "text/plain",
                "data": base64.b64encode(PROGRESS_NOTE.encode()).decode(),
            }}],
            "context": {"encounter": [self.encounter]},
        }

    def procedure(self, n: int) -> dict:
        code, display = ROUTINE_PROCEDURES[(n - 1) % len(ROUTINE_PROCEDURES)]
        return {
            "resourceType": "Procedure",
            "id": f"bench-procedure-{n:04d}",
            "status": "completed",
            "code": _cc(SNOMED, code, display),
            "subject": self.patient,
            "encounter": self.encounter,
            "performedDateTime": _stamp(self.anchor - timedelta(hours=8 * n)),
        }

    def imaging(self, n: int) -> dict:
        # Earlier chest radiographs (days before): not a modality or a time that could guide the procedure.
        return {
            "resourceType": "ImagingStudy",
            "id": f"bench-imaging-{n:04d}",
            "status": "available",
            "modality": [{"system": DICOM, "code": "DX", "display": "Digital Radiography"}],
            "subject": self.patient,
            "encounter": self.encounter,
            "started": _stamp(self.anchor - timedelta(days=n + 1)),
            "numberOfSeries": 1,
            "numberOfInstances": 2,
            "series": [{
                "uid": f"2.25.{9000000 + n}",
                "modality": {"system": DICOM, "code": "DX", "display": "Digital Radiography"},
                "numberOfInstances": 2,
                "bodySite": {"system": SNOMED, "code": "51185008", "display": "Thoracic structure"},
            }],
        }

    def coverage(self, n: int) -> dict:
        return {
            "resourceType": "Coverage",
            "id": f"bench-coverage-{n:04d}",
            "status": "active",
            "type": _cc("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PUBLICPOL", "public healthcare"),
            "beneficiary": self.patient,
            "payor": [{"display": "Medicare Part B"}],
        }

    def lab_order(self, n: int) -> dict:
        code, display = LAB_ORDERS[(n - 1) % len(LAB_ORDERS)]
        return {
            "resourceType": "ServiceRequest",
            "id": f"bench-lab-order-{n:04d}",
            "status": "draft",
            "intent": "order",
            "category": [_cc(SNOMED, "108252007", "Laboratory procedure")],
            "code": _cc(LOINC, code, display),
            "subject": self.patient,
            "encounter": self.encounter,
        }


def _searchset(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def _pattern(kinds: tuple[str, ...]) -> Iterator[str]:
    while True:
        yield from kinds


def _ids(call: dict) -> tuple[str, str]:
    context = call["context"]
    patient = _bare(str(context.get("patientId") or "bench-patient"))
    encounter = _bare(str(context.get("encounterId") or "bench-encounter"))
    return patient, encounter


def encounter_resources(call: dict, total: int, pattern: tuple[str, ...] = ENCOUNTER_PATTERN) -> list[dict]:
    """The encounter of a fixture as a flat list of ``total`` resources: its own first, companions after.

    The fixture's prefetched resources come first, then a Patient, Encounter and Coverage if it has
    none, then companions of the kinds in ``pattern``. Resources of the request context are not included.
    """
    own = _unique(prefetch_resources(call))
    patient_id, encounter_id = _ids(call)
    types = {r.get("resourceType") for r in own}
    make = Companions(patient_id, encounter_id, anchor_time(own + context_resources(call)))
    base: list[dict] = list(own)
    if "Patient" not in types:
        base.append({"resourceType": "Patient", "id": patient_id, "gender": "unknown"})
    if "Encounter" not in types:
        base.append({"resourceType": "Encounter", "id": encounter_id, "status": "in-progress",
                     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                     "subject": make.patient})
    if "Coverage" not in types:
        base.append(make.make("coverage"))
    kinds = _pattern(pattern)
    while len(base) < total:
        base.append(make.make(next(kinds)))
    return base


def _unique(resources: list[dict]) -> list[dict]:
    seen: set[tuple[str, str]] = set()
    out = []
    for resource in resources:
        key = (str(resource.get("resourceType")), str(resource.get("id")))
        if key not in seen:
            seen.add(key)
            out.append(resource)
    return out


def prefetch_for(service: ServiceDefinition, resources: list[dict]) -> dict:
    """Every prefetch key of the service filled from the encounter's resources (a complete prefetch)."""
    by_type: dict[str, list[dict]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    prefetch: dict[str, object] = {}
    for spec in service.prefetch:
        rtype = spec.template.split("/", 1)[0].split("?", 1)[0]
        found = by_type.get(rtype, [])
        if "?" in spec.template:
            prefetch[spec.key] = _searchset(found)
        else:
            prefetch[spec.key] = found[0] if found else None
    return prefetch


def padded_call(case: str, base: dict, total: int) -> BenchCall:
    """The fixture as a request with a complete prefetch; request context and prefetch hold ``total`` resources.

    Order services read only the problem list besides the orders, so their encounter grows by conditions
    and their draft orders by the lab orders usually signed with a procedure.
    """
    service = service_for_hook(base["hook"])
    call = copy.deepcopy(base)
    call["hookInstance"] = f"bench-{case}"
    pattern = ENCOUNTER_PATTERN
    if service.evidence == "orders":
        patient_id, encounter_id = _ids(call)
        orders = call["context"].setdefault("draftOrders", {"resourceType": "Bundle", "type": "collection"})
        make = Companions(patient_id, encounter_id, DEFAULT_ANCHOR)
        orders.setdefault("entry", []).extend({"resource": make.make("lab_order")} for _ in range(ORDER_LAB_ORDERS))
        pattern = ("condition",)
    in_context = len(context_resources(call))
    resources = encounter_resources(call, total - in_context, pattern)
    # Prefetch the service does not declare would be ignored; send exactly what it asks for.
    call.pop("fhirAuthorization", None)
    call.pop("fhirServer", None)
    call["prefetch"] = prefetch_for(service, resources)
    carried = sum(len(_bundle_resources(v)) for v in call["prefetch"].values())
    return BenchCall(case=case, service=service, call=call, resources=carried + in_context)


def discharge_call(base: dict, total: int, fhir_base_url: str) -> tuple[BenchCall, list[dict]]:
    """An encounter-discharge request with no prefetch, and the ``total`` resources to load into the server.

    ``base`` may be any fixture of the encounter: its prefetched resources and a signed note are kept.
    """
    note = (base.get("context") or {}).get("note")
    extra = [note] if isinstance(note, dict) and note.get("id") else []
    resources = encounter_resources(base, total - len(extra)) + extra
    context = base["context"]
    patient_id, encounter_id = _ids(base)
    call = {
        "hook": "encounter-discharge",
        "hookInstance": "bench-encounter-discharge",
        "fhirServer": fhir_base_url,
        "context": {"userId": context.get("userId", "Practitioner/bench"), "patientId": patient_id,
                    "encounterId": encounter_id},
    }
    service = service_for_hook("encounter-discharge")
    return BenchCall("encounter-discharge", service, call, len(resources)), resources
