"""Structural checks of the FHIR R4 resources the rules read, on plain dicts.

Why not full models: fhir.resources has no R4 module (its R4B models parse our types) and costs about
25x json.loads per resource; the rules read a few dozen fields. So each resource the evidence layer
reads is checked here, field by field, against the JSON type R4 gives it; a resource that fails is
skipped and named on the card instead of breaking the call.
"""

from __future__ import annotations

import re

STR, DICT, LIST, NUM, BOOL = "string", "object", "array", "number", "boolean"

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # used with fullmatch: `$` would accept a final newline

# resourceType -> field -> expected JSON kind (lists: of objects unless noted by a tuple).
FIELDS: dict[str, dict[str, object]] = {
    "Procedure": {
        "status": STR, "code": DICT, "subject": DICT, "encounter": DICT, "performedDateTime": STR,
        "performedPeriod": DICT, "bodySite": (LIST, DICT), "reasonCode": (LIST, DICT),
        "reasonReference": (LIST, DICT), "performer": (LIST, DICT), "focalDevice": (LIST, DICT),
        "note": (LIST, DICT), "complication": (LIST, DICT), "basedOn": (LIST, DICT),
        "statusReason": DICT, "report": (LIST, DICT), "partOf": (LIST, DICT), "contained": (LIST, DICT),
    },
    "ServiceRequest": {
        "status": STR, "intent": STR, "code": DICT, "subject": DICT, "encounter": DICT,
        "bodySite": (LIST, DICT), "reasonCode": (LIST, DICT), "reasonReference": (LIST, DICT),
        "occurrenceDateTime": STR, "note": (LIST, DICT), "requester": DICT, "basedOn": (LIST, DICT),
        "contained": (LIST, DICT),
    },
    "Condition": {
        "code": DICT, "clinicalStatus": DICT, "verificationStatus": DICT, "subject": DICT,
        "encounter": DICT, "category": (LIST, DICT), "bodySite": (LIST, DICT),
    },
    "ImagingStudy": {
        "status": STR, "modality": (LIST, DICT), "started": STR, "encounter": DICT, "subject": DICT,
        "numberOfInstances": NUM, "numberOfSeries": NUM, "series": (LIST, DICT),
        "basedOn": (LIST, DICT), "procedureReference": DICT, "procedureCode": (LIST, DICT),
    },
    "Observation": {
        "status": STR, "code": DICT, "valueQuantity": DICT, "encounter": DICT, "subject": DICT,
        "partOf": (LIST, DICT), "derivedFrom": (LIST, DICT), "effectiveDateTime": STR,
    },
    "DocumentReference": {
        "status": STR, "type": DICT, "content": (LIST, DICT), "context": DICT, "subject": DICT,
        "date": STR,
    },
    "MedicationAdministration": {
        "status": STR, "medicationCodeableConcept": DICT, "medicationReference": DICT, "subject": DICT,
        "context": DICT, "partOf": (LIST, DICT), "dosage": DICT, "effectiveDateTime": STR,
    },
    "Encounter": {"status": STR, "class": DICT, "period": DICT, "subject": DICT, "type": (LIST, DICT)},
    "Coverage": {"status": STR, "payor": (LIST, DICT), "type": DICT, "class": (LIST, DICT)},
    "Patient": {},
}

_PYTHON_TYPES = {STR: str, DICT: dict, LIST: list, BOOL: bool, NUM: (int, float)}
_ABSENT = object()


def _checks(fields: dict[str, object]) -> tuple[tuple[str, str, type | tuple, bool], ...]:
    """(field, kind, Python type(s), is a list) per field: compiled once, read on every resource."""
    compiled = []
    for name, expected in fields.items():
        kind = expected[1] if isinstance(expected, tuple) else expected
        compiled.append((name, kind, _PYTHON_TYPES[kind], isinstance(expected, tuple)))
    return tuple(compiled)


_CHECKS = {rtype: _checks(fields) for rtype, fields in FIELDS.items()}


def _is(kind: str, python_type: type | tuple, value: object) -> bool:
    # JSON booleans are Python ints: a number field must not accept true/false.
    return isinstance(value, python_type) and not (kind == NUM and isinstance(value, bool))


def is_fhir_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def invalid_reason(resource: object) -> str | None:
    """Why this resource cannot be used, or None when the fields the rules read have their R4 types."""
    if not isinstance(resource, dict):
        return "not a JSON object"
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return "no resourceType"
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not is_fhir_id(rid)):
        return "id is not a valid FHIR id"
    for name, kind, python_type, is_list in _CHECKS.get(rtype, ()):
        value = resource.get(name, _ABSENT)
        if value is _ABSENT:
            continue
        if is_list:
            if not isinstance(value, list):
                return f"{name} must be an array"
            if any(not _is(kind, python_type, item) for item in value):
                return f"{name} must hold {kind}s"
        elif not _is(kind, python_type, value):
            return f"{name} must be a {kind}"
    return None
