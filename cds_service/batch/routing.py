"""Which patient a Bulk Data resource belongs to: the key the export is staged and partitioned by."""

from __future__ import annotations

from ..evidence.values import reference_key

URN_UUID = "urn:uuid:"

# The resource types the audit reads (the encounter-discharge evidence, plus what was billed).
AUDITED_TYPES = frozenset({
    "Patient", "Encounter", "Procedure", "Condition", "ImagingStudy", "Observation", "DocumentReference",
    "ServiceRequest", "Coverage", "MedicationAdministration", "Claim", "ExplanationOfBenefit",
})

# Where each type names its patient, in order of preference.
_PATIENT_FIELDS: dict[str, tuple[str, ...]] = {
    "Coverage": ("beneficiary", "subscriber"),
    "Claim": ("patient",),
    "ExplanationOfBenefit": ("patient",),
}
_DEFAULT_FIELDS = ("subject", "patient")


class Unroutable(ValueError):
    """A resource the audit reads but cannot tie to a patient (listed in errors.ndjson)."""


def patient_of(resource: dict) -> str | None:
    """`Patient/<id>` for audited types, None for types the audit does not read; Unroutable otherwise."""
    rtype = resource.get("resourceType")
    if rtype not in AUDITED_TYPES:
        return None
    if rtype == "Patient":
        rid = resource.get("id")
        if isinstance(rid, str) and rid:
            return f"Patient/{rid}"
        raise Unroutable("Patient without an id")
    for name in _PATIENT_FIELDS.get(rtype, _DEFAULT_FIELDS):
        key = reference_key(resource.get(name))
        if key and key.startswith("Patient/"):
            return key
        if key and key.startswith(URN_UUID):  # Synthea: a patient reference by its uuid, which is its id
            return f"Patient/{key[len(URN_UUID):]}"
    raise Unroutable(f"{rtype} names no Patient (subject/patient reference)")
