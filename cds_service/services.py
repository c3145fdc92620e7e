"""The CDS services this server offers, declared as data: hook, texts, prefetch, and what is required.

Each prefetch key names a FHIR query template. `required` keys must be had from prefetch or from the
FHIR server, or the call ends in 412; optional keys that cannot be read are reported on the cards.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE_SIGN_HOOK = "org.procedure-coding.note-sign"


@dataclass(frozen=True)
class PrefetchSpec:
    key: str
    template: str
    # Used when a token of `template` is missing from the context (the sandbox never sends encounterId).
    fallback: str | None = None
    required: bool = False


PATIENT = PrefetchSpec("patient", "Patient/{{context.patientId}}")
ENCOUNTER = PrefetchSpec("encounter", "Encounter/{{context.encounterId}}")
COVERAGE = PrefetchSpec("coverage", "Coverage?patient={{context.patientId}}&status=active")


def _encounter_search(key: str, resource: str, required: bool) -> PrefetchSpec:
    return PrefetchSpec(
        key,
        f"{resource}?patient={{{{context.patientId}}}}&encounter={{{{context.encounterId}}}}",
        fallback=f"{resource}?patient={{{{context.patientId}}}}",
        required=required,
    )


CONDITIONS = _encounter_search("conditions", "Condition", required=False)
PROCEDURES = _encounter_search("procedures", "Procedure", required=True)
IMAGING = _encounter_search("imagingStudies", "ImagingStudy", required=True)
OBSERVATIONS = _encounter_search("observations", "Observation", required=False)
DOCUMENTS = _encounter_search("documents", "DocumentReference", required=False)
# Drugs given during the procedures (partOf a Procedure), for drug supply lines; R4 names the encounter
# search parameter of MedicationAdministration `context`.
MEDICATIONS = PrefetchSpec(
    "medications",
    "MedicationAdministration?patient={{context.patientId}}&context={{context.encounterId}}",
    fallback="MedicationAdministration?patient={{context.patientId}}",
)

ORDER_PREFETCH = (PATIENT, ENCOUNTER, CONDITIONS, COVERAGE)
ENCOUNTER_PREFETCH = (PATIENT, ENCOUNTER, CONDITIONS, PROCEDURES, IMAGING, OBSERVATIONS, DOCUMENTS, COVERAGE,
                      MEDICATIONS)

# patient-view: the patient's procedures of the last 30 days. `{{today() - N days}}` is a CDS Hooks prefetch
# token (FHIRPath date arithmetic, resolved by the sandbox and by this service when it fetches itself).
# Imaging, notes, observations and encounters reach one day further back: guidance may start before midnight.
PATIENT_VIEW_DAYS = 30


def _recent(key: str, query: str, required: bool = False) -> PrefetchSpec:
    return PrefetchSpec(key, f"{query}=ge{{{{today() - {PATIENT_VIEW_DAYS + 1} days}}}}", required=required)


PATIENT_VIEW_PREFETCH = (
    PATIENT,
    PrefetchSpec("conditions", "Condition?patient={{context.patientId}}"),
    PrefetchSpec(
        "procedures",
        f"Procedure?patient={{{{context.patientId}}}}&date=ge{{{{today() - {PATIENT_VIEW_DAYS} days}}}}",
        required=True,
    ),
    _recent("imagingStudies", "ImagingStudy?patient={{context.patientId}}&started", required=True),
    _recent("observations", "Observation?patient={{context.patientId}}&date"),
    _recent("documents", "DocumentReference?patient={{context.patientId}}&date"),
    _recent("encounters", "Encounter?patient={{context.patientId}}&date"),
    COVERAGE,
)


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: tuple[PrefetchSpec, ...]
    # What the coding engine reads as the coded subjects: draft orders, the signed note, or the encounter.
    evidence: str
    # Preview services answer with info-level cards only.
    preview: bool = False
    # Other hooks with the same context shape that this service also answers, with its own behaviour
    # (the CDS Hooks sandbox's imaging screen calls the order-select service with "hook": "order-sign").
    also_answers: tuple[str, ...] = ()
    # Only subjects started within this many days before the call are coded (patient-view).
    lookback_days: int | None = None
    # Cards only for subjects that still need something (a code, a modifier or documentation).
    only_open: bool = False

    def answers(self, hook: str) -> bool:
        return hook == self.hook or hook in self.also_answers

    def discovery_entry(self) -> dict:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {spec.key: spec.template for spec in self.prefetch},
        }


SERVICES: tuple[ServiceDefinition, ...] = (
    ServiceDefinition(
        id="procedure-coding-order-sign",
        hook="order-sign",
        title="Procedure coding at order signing",
        description=(
            "Suggests the CPT code and side modifier for procedure orders being signed (pleural "
            "procedures, paracentesis), flags separate guidance orders that are bundled into the "
            "procedure, and lists the indication or laterality still missing."
        ),
        prefetch=ORDER_PREFETCH,
        evidence="orders",
        also_answers=("order-select",),
    ),
    ServiceDefinition(
        id="procedure-coding-order-select",
        hook="order-select",
        title="Procedure coding preview while ordering",
        description=(
            "Informational preview of the CPT coding of the procedure orders being chosen, before "
            "they are signed."
        ),
        prefetch=ORDER_PREFETCH,
        evidence="orders",
        preview=True,
        also_answers=("order-sign",),
    ),
    ServiceDefinition(
        id="procedure-coding-note-sign",
        hook=NOTE_SIGN_HOOK,
        title="Procedure coding when a procedure note is signed",
        description=(
            "When a procedure note is signed, checks the documented procedures against the imaging "
            "and diagnoses of the encounter and suggests CPT codes, modifiers and the documentation "
            "still missing (fluid volume, complications, saved images, side, indication)."
        ),
        prefetch=ENCOUNTER_PREFETCH,
        evidence="note",
    ),
    ServiceDefinition(
        id="procedure-coding-encounter-discharge",
        hook="encounter-discharge",
        title="Procedure coding review at discharge",
        description=(
            "At discharge, reviews every procedure of the encounter, done or not done, and suggests "
            "the CPT lines, modifiers, bundled codes and missing documentation for the claim."
        ),
        prefetch=ENCOUNTER_PREFETCH,
        evidence="encounter",
    ),
    ServiceDefinition(
        id="procedure-coding-patient-view",
        hook="patient-view",
        title="Coding status of recent procedures",
        description=(
            f"When the chart is opened, reviews the patient's procedures of the last {PATIENT_VIEW_DAYS} days "
            "with the same rules as the discharge review, and shows one card per procedure that still needs "
            "a CPT code, a corrected code or documentation (side, indication, saved images, volume, "
            "complications). No card when every procedure is in order."
        ),
        prefetch=PATIENT_VIEW_PREFETCH,
        evidence="encounter",
        lookback_days=PATIENT_VIEW_DAYS,
        only_open=True,
    ),
)

SERVICES_BY_ID = {service.id: service for service in SERVICES}
