"""Reading FHIR R4 values off plain dicts, defensively: shape.py checks top-level types only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from ..fhir.systems import CPT, ICD10CM, ICD10PCS, LOINC, RADLEX, SNOMED, SYSTEM_ALIASES

DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"

# How a card names a code system (the system URI when it is not one of these).
SYSTEM_NAMES = {SNOMED: "SNOMED CT", CPT: "CPT", ICD10CM: "ICD-10-CM", ICD10PCS: "ICD-10-PCS", LOINC: "LOINC",
                RADLEX: "RadLex", DICOM_DCM: "DICOM"}


class Coded(NamedTuple):  # a tuple, not a frozen dataclass: built for every coding read, 3x cheaper
    system: str
    code: str
    display: str


def canonical_system(value: object) -> str:
    """A Coding's system as the rules compare it (HL7 OIDs and trailing slashes mapped), "" when absent."""
    return SYSTEM_ALIASES.get(value, value) if isinstance(value, str) else ""


def codings(concept: object) -> tuple[Coded, ...]:
    """The codings of a CodeableConcept (or of a bare Coding), skipping malformed entries."""
    if not isinstance(concept, dict):
        return ()
    items = concept.get("coding") if "coding" in concept else [concept]
    found = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            system = canonical_system(item.get("system"))
            display = item.get("display") if isinstance(item.get("display"), str) else ""
            found.append(Coded(system, item["code"].strip(), display))
    return tuple(found)


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system or "a code without a system")


def concept_text(concept: object) -> str:
    """The human text of a CodeableConcept: its text and the displays of its codings."""
    if not isinstance(concept, dict):
        return ""
    parts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    parts.extend(c.display for c in codings(concept) if c.display)
    return " | ".join(parts)


def codes_in(concept: object, system: str) -> set[str]:
    return {c.code for c in codings(concept) if c.system == system}


def listed(resource: dict, name: str) -> list:
    value = resource.get(name)
    return value if isinstance(value, list) else []


def reference_key(reference: object) -> str | None:
    """`Type/id` of a Reference (relative, absolute or versioned), the urn for urn references, else None."""
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith(("urn:uuid:", "urn:oid:")):
        return reference
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def key_of(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def parse_instant(value: object) -> datetime | None:
    """A FHIR dateTime/instant as an aware datetime (a date alone is its midnight, no zone means UTC)."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not 1 < parsed.year < 9999:
        return None  # so that window arithmetic (minutes to days either side) cannot overflow
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local_day(value: object) -> str | None:
    """The date of service as written (the local date of the timestamp), e.g. '2024-03-01'."""
    if isinstance(value, str) and len(value) >= 10 and parse_instant(value) is not None:
        return value[:10]
    return None


def annotation_texts(resource: dict, name: str = "note") -> list[str]:
    return [n["text"] for n in listed(resource, name) if isinstance(n, dict) and isinstance(n.get("text"), str)]
