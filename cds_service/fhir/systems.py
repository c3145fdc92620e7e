"""Code system URIs as EHRs write them, mapped to the canonical FHIR URI the rules compare with.

HL7 OIDs (`urn:oid:2.16.840.1.113883.6.x`, as in CDA-derived data) and a trailing slash are common in real
payloads; the evidence layer reads every coding through this table once.
"""

from __future__ import annotations

SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
LOINC = "http://loinc.org"
RADLEX = "http://www.radlex.org"

SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "urn:oid:2.16.840.1.113883.6.12": CPT,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.4": ICD10PCS,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    **{f"{system}/": system for system in (SNOMED, CPT, ICD10CM, ICD10PCS, LOINC, RADLEX)},
}
