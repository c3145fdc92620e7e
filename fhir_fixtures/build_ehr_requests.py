"""Writes the EHR-shaped request fixtures `fhir_fixtures/requests/ehr-*.json` (issue 12).

Each is a hook call shaped like what a real EHR sends, written for this project (no file copied): US Core
`meta.profile`, vendor codings next to the standard ones, contained resources, references by absolute URL,
extensions on resources and on primitives (`_performedDateTime`), identifiers, displays everywhere.
Three flavours: "epic" (urn:oid local code systems, FHIR ids such as `eXr4.3`), "oracle" (numeric ids, code
sets under a tenant URL, `userSelected`) and "medplum" (UUID ids, `meta.versionId`/`lastUpdated`).

Each call names its EHR's `fhirServer` (prefetch complete, so nothing is read from it). Subjects and
encounters are referenced relatively, as FHIR servers answer searches; links that are not search parameters
(procedureReference, basedOn, reasonReference, performer) are absolute URLs on that server in some fixtures.
Each fixture works in prefetch mode and in fetch mode (`tests/coding/test_ehr_fixtures.py` loads its
prefetch into the loopback FHIR server and sends the call without it), so every Condition either carries the
encounter or is cited by reasonReference.

Run: `.venv/bin/python fhir_fixtures/build_ehr_requests.py`.
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCT = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
LOINC = "http://loinc.org"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
TZ = "http://hl7.org/fhir/StructureDefinition/tz-code"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SOP_US = "urn:oid:1.2.840.10008.5.1.4.1.1.6.1"  # DICOM Ultrasound Image Storage

EPIC = "urn:oid:1.2.840.114350.1.13.0.1.7"  # local code systems under an Epic-style OID
EPIC_BASE = "https://fhir.epic-style.example.org/api/FHIR/R4"
ORACLE_BASE = "https://fhir-ehr.oracle-style.example.org/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d"
ORACLE_CODESET = ORACLE_BASE + "/codeSet/"
MEDPLUM_BASE = "https://api.medplum-style.example.org/fhir/R4"
DAY = "2025-02-11"

# The diagnoses used below: each SNOMED CT id is one the packs list (or, for the negatives, the CDS Hooks
# sandbox's own low back pain reason), each ICD-10-CM code one of the packs' prefixes.
EFFUSION = {"system": SCT, "code": "60046008", "display": "Pleural effusion"}
PNEUMOTHORAX = {"system": SCT, "code": "36118008", "display": "Pneumothorax"}
HEART_FAILURE = {"system": SCT, "code": "84114007", "display": "Heart failure"}
ASCITES = {"system": SCT, "code": "389026000", "display": "Ascites"}
BACK_PAIN = {"system": SCT, "code": "279039007", "display": "Low back pain"}
J90 = {"system": ICD, "code": "J90", "display": "Pleural effusion, not elsewhere classified"}
R188 = {"system": ICD, "code": "R18.8", "display": "Other ascites"}

THORACENTESIS = {"system": SCT, "code": "91602002", "display": "Thoracentesis"}
PARACENTESIS = {"system": SCT, "code": "89305009", "display": "Abdominal paracentesis"}
RIGHT_PLEURA = {"system": SCT, "code": "44788007", "display": "Right pleura"}
LEFT_PLEURA = {"system": SCT, "code": "53727004", "display": "Left pleura"}
RIGHT = {"system": SCT, "code": "24028007", "display": "Right"}
LEFT = {"system": SCT, "code": "7771000", "display": "Left"}
UNILATERAL_LEFT = {"system": SCT, "code": "419161000", "display": "Unilateral left"}
UNILATERAL_RIGHT = {"system": SCT, "code": "419465000", "display": "Unilateral right"}
THORAX = {"system": SCT, "code": "51185008", "display": "Thoracic structure"}

FULL_NOTE = ("Procedure note. Indication: effusion. Time-out done. 950 mL of straw-colored fluid removed, "
             "catheter removed at the end. Specimens sent for cell count and cytology. No complications. "
             "Post-procedure chest x-ray: no pneumothorax.")
PARA_NOTE = ("Paracentesis note. 3.2 L of clear ascitic fluid removed. Specimen sent for cell count. "
             "No complications.")


def at(clock: str, day: str = DAY, offset: str = "-06:00") -> str:
    return f"{day}T{clock}:00{offset}"


def ref(key: str, display: str | None = None) -> dict:
    reference: dict = {"reference": key}
    if display:
        reference["display"] = display
    return reference


def profile(name: str) -> dict:
    return {"profile": [US_CORE + name]}


class Flavour:
    """How one EHR family writes ids, codes and metadata."""

    def __init__(self, name: str, base: str, patient: str, encounter: str, practitioner: str):
        self.name, self.base = name, base
        self.patient, self.encounter, self.practitioner = patient, encounter, practitioner

    def absolute(self, key: str) -> dict:
        return {"reference": f"{self.base}/{key}"}

    def meta(self, us_core: str) -> dict:
        meta = profile(us_core)
        if self.name == "medplum":
            meta.update(versionId="3c1f6a2e-5d0b-4f3e-9a57-2f4e0b1c9d21", lastUpdated=at("12:00", offset="Z")[:-1]
                        + ".000Z")
        if self.name == "oracle":
            meta.update(versionId="2", lastUpdated=at("12:00", offset="Z")[:-1] + ".000Z")
        return meta

    def local(self, code: str, display: str) -> dict:
        """A vendor-local coding of an order or procedure (EAP / order catalog code)."""
        if self.name == "epic":
            return {"system": f"{EPIC}.2.696580", "code": code, "display": display}
        if self.name == "oracle":
            return {"system": ORACLE_CODESET + "200", "code": code, "display": display, "userSelected": True}
        return {"system": "https://example.org/medplum-style/procedure-codes", "code": code, "display": display}

    def extension(self) -> list[dict]:
        """Vendor extensions that a reader must ignore."""
        if self.name == "epic":
            return [{"url": "http://open.epic.com/FHIR/StructureDefinition/extension/ip-admit-date",
                     "valueDate": DAY}]
        if self.name == "oracle":
            return [{"url": "https://fhir-ehr.cerner.com/r4/StructureDefinition/custom-attribute",
                     "valueString": "procedure-workflow"}]
        return [{"url": "https://medplum.example.org/StructureDefinition/worklist",
                 "valueReference": {"reference": "Task/4d2e"}}]

    def identifier(self, value: str) -> list[dict]:
        system = {"epic": f"{EPIC}.2.7.3.698084.8", "oracle": ORACLE_BASE + "/identifier",
                  "medplum": "https://example.org/medplum-style/ids"}[self.name]
        return [{"use": "usual", "system": system, "value": value}]


EPIC_F = Flavour("epic", EPIC_BASE, "eVbT3x2Gq0.3", "eQdA8kmf4Tz3", "eMdPr0V1d3r")
ORACLE_F = Flavour("oracle", ORACLE_BASE, "12724066", "97953477", "4122622")
MEDPLUM_F = Flavour("medplum", MEDPLUM_BASE, "0191e7f2-7b1a-4c52-9d80-5c0b6a8f2e11",
                    "0191e7f2-8c2d-4b7e-a1f3-6e9d2c4b7a55", "0191e7f2-9e3f-4d61-b2a4-7f0e3d5c8b66")


def patient(f: Flavour) -> dict:
    return {
        "resourceType": "Patient", "id": f.patient, "meta": f.meta("us-core-patient"),
        "extension": [{"url": US_CORE + "us-core-birthsex", "valueCode": "F"}],
        "identifier": f.identifier("MRN" + f.patient[-4:]),
        "name": [{"use": "official", "family": "Testpatient", "given": ["Robin"]}],
        "gender": "female", "birthDate": "1948-09-30",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                      "valueDateTime": "1948-09-30T06:40:00-05:00"}]},
    }


def encounter(f: Flavour, cls: dict) -> dict:
    return {
        "resourceType": "Encounter", "id": f.encounter, "meta": f.meta("us-core-encounter"),
        "extension": f.extension(), "identifier": f.identifier("CSN" + f.encounter[-5:]),
        "status": "in-progress", "class": cls,
        "type": [{"coding": [f.local("101", "Hospital encounter")], "text": "Hospital encounter"}],
        "subject": ref(f"Patient/{f.patient}", "Testpatient, Robin"),
        "period": {"start": at("06:30")},
    }


def condition(f: Flavour, cid: str, codings: list[dict], text: str, encounter: bool = True,
              category: str = "encounter-diagnosis", status: str = "active") -> dict:
    resource = {
        "resourceType": "Condition", "id": cid,
        "meta": f.meta("us-core-condition-encounter-diagnosis" if category == "encounter-diagnosis"
                       else "us-core-condition-problems-health-concerns"),
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": codings, "text": text},
        "subject": ref(f"Patient/{f.patient}"),
        "recordedDate": at("07:10"),
    }
    if encounter:
        resource["encounter"] = ref(f"Encounter/{f.encounter}")
    return resource


def procedure(f: Flavour, pid: str, codings: list[dict], text: str, start: str = "10:00", end: str | None = "10:25",
              body_site: list[dict] | None = None, **extra) -> dict:
    resource: dict = {
        "resourceType": "Procedure", "id": pid, "meta": f.meta("us-core-procedure"),
        "extension": f.extension(), "identifier": f.identifier("PRC" + pid[-4:]),
        "status": "completed", "code": {"coding": codings, "text": text},
        "subject": ref(f"Patient/{f.patient}", "Testpatient, Robin"),
        "encounter": ref(f"Encounter/{f.encounter}"),
        "performer": [{"actor": f.absolute(f"Practitioner/{f.practitioner}") | {"display": "Dr. Performer"}}],
    }
    if end:
        resource["performedPeriod"] = {"start": at(start), "end": at(end)}
    else:
        resource["performedDateTime"] = at(start)
        resource["_performedDateTime"] = {"extension": [{"url": TZ, "valueCode": "America/Chicago"}]}
    if body_site:
        resource["bodySite"] = body_site
    resource.update(extra)
    return resource


def service_request(f: Flavour, sid: str, codings: list[dict], text: str, **extra) -> dict:
    resource: dict = {
        "resourceType": "ServiceRequest", "id": sid, "meta": f.meta("us-core-servicerequest"),
        "extension": f.extension(), "identifier": f.identifier("ORD" + sid[-4:]),
        "status": "draft", "intent": "order",
        "category": [{"coding": [f.local("PROC", "Procedures")], "text": "Procedures"}],
        "code": {"coding": codings, "text": text},
        "subject": ref(f"Patient/{f.patient}"), "encounter": ref(f"Encounter/{f.encounter}"),
        "occurrenceDateTime": at("15:00"), "authoredOn": at("13:55"),
        "requester": ref(f"Practitioner/{f.practitioner}", "Dr. Orderer"),
    }
    resource.update(extra)
    return resource


def medication_request(f: Flavour, mid: str, rxnorm: str, text: str) -> dict:
    return {
        "resourceType": "MedicationRequest", "id": mid, "meta": f.meta("us-core-medicationrequest"),
        "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm, "display": text}], "text": text},
        "subject": ref(f"Patient/{f.patient}"), "encounter": ref(f"Encounter/{f.encounter}"),
        "authoredOn": at("13:55"), "requester": ref(f"Practitioner/{f.practitioner}"),
        "dosageInstruction": [{"text": "once, before the procedure"}],
    }


def series(uid: str, modality: str | None, instances: int, laterality: dict | None = None,
           body_site: dict | None = None, count_field: bool = False) -> dict:
    """A series as PACS-fed EHRs send it: instances listed (often without numberOfInstances)."""
    item: dict = {"uid": uid, "number": 1}
    if modality:
        item["modality"] = {"system": DCM, "code": modality}
    if count_field:
        item["numberOfInstances"] = instances
    if body_site:
        item["bodySite"] = body_site
    if laterality:
        item["laterality"] = laterality
    item["instance"] = [{"uid": f"{uid}.{n}", "sopClass": {"system": "urn:ietf:rfc:3986", "code": SOP_US},
                         "number": n} for n in range(1, instances + 1)]
    return item


def imaging(f: Flavour, iid: str, started: str, series_list: list[dict], study_modality: str | None = None,
            procedure_codes: list[dict] | None = None, **extra) -> dict:
    resource: dict = {
        "resourceType": "ImagingStudy", "id": iid,  # US Core has no ImagingStudy profile
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:2.25.{zlib.crc32(iid.encode())}"}],
        "status": "available", "subject": ref(f"Patient/{f.patient}"), "encounter": ref(f"Encounter/{f.encounter}"),
        "started": at(started), "_started": {"extension": [{"url": TZ, "valueCode": "America/Chicago"}]},
        "numberOfSeries": len(series_list), "series": series_list,
    }
    if study_modality:
        resource["modality"] = [{"system": DCM, "code": study_modality}]
    if procedure_codes:
        resource["procedureCode"] = [{"coding": [c]} for c in procedure_codes]
    resource.update(extra)
    return resource


def document(f: Flavour, did: str, text: str, related: list[str]) -> dict:
    return {
        "resourceType": "DocumentReference", "id": did, "meta": f.meta("us-core-documentreference"),
        "status": "current", "docStatus": "final",
        "type": {"coding": [{"system": LOINC, "code": "28570-0", "display": "Procedure note"}]},
        "category": [{"coding": [{"system": US_CORE.replace("StructureDefinition/", "CodeSystem/")
                                  + "us-core-documentreference-category", "code": "clinical-note"}]}],
        "subject": ref(f"Patient/{f.patient}"), "date": at("11:00"),
        "author": [ref(f"Practitioner/{f.practitioner}")],
        "content": [{"attachment": {"contentType": "text/plain",
                                    "data": base64.b64encode(text.encode()).decode()},
                     "format": {"system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                                "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient"}}],
        "context": {"encounter": [ref(f"Encounter/{f.encounter}")], "related": [ref(r) for r in related]},
    }


def observation_volume(f: Flavour, oid: str, procedure_id: str, litres: float) -> dict:
    return {
        "resourceType": "Observation", "id": oid, "meta": f.meta("us-core-observation-clinical-result"),
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "procedure"}]}],
        "code": {"coding": [f.local("3040", "Pleural fluid volume removed")], "text": "Volume removed"},
        "subject": ref(f"Patient/{f.patient}"), "encounter": ref(f"Encounter/{f.encounter}"),
        "partOf": [ref(f"Procedure/{procedure_id}")], "effectiveDateTime": at("10:25"),
        "valueQuantity": {"value": litres, "unit": "L", "system": "http://unitsofmeasure.org", "code": "L"},
    }


def coverage(f: Flavour, payor: str = "Medicare Part B") -> dict:
    return {
        "resourceType": "Coverage", "id": f"cov-{f.name}", "meta": f.meta("us-core-coverage"),
        "status": "active", "beneficiary": ref(f"Patient/{f.patient}"),
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                     "code": "self"}]},
        "payor": [{"display": payor}],
    }


def searchset(f: Flavour, resources: list[dict]) -> dict | None:
    if not resources:
        return None
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": f"{f.base}/{resources[0]['resourceType']}?patient={f.patient}"}],
            "entry": [{"fullUrl": f"{f.base}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def _by_type(resources: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for resource in resources:
        found.setdefault(resource["resourceType"], []).append(resource)
    return found


def encounter_call(f: Flavour, hook: str, resources: list[dict], cls: dict, note: dict | None = None,
                   payor: str = "Medicare Part B") -> dict:
    by_type = _by_type(resources)
    context: dict = {"userId": f"Practitioner/{f.practitioner}", "patientId": f.patient, "encounterId": f.encounter}
    if note is not None:
        context["note"] = note
    return {
        "hook": hook, "hookInstance": "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "fhirServer": f.base,
        "context": context,
        "prefetch": {
            "patient": patient(f), "encounter": encounter(f, cls),
            "conditions": searchset(f, by_type.get("Condition", [])),
            "procedures": searchset(f, by_type.get("Procedure", [])),
            "imagingStudies": searchset(f, by_type.get("ImagingStudy", [])),
            "observations": searchset(f, by_type.get("Observation", [])),
            "documents": searchset(f, by_type.get("DocumentReference", [])),
            "coverage": searchset(f, [coverage(f, payor)]),
            "medications": searchset(f, by_type.get("MedicationAdministration", [])),
        },
    }


def order_call(f: Flavour, hook: str, orders: list[dict], conditions: list[dict], cls: dict) -> dict:
    context: dict = {"userId": f"Practitioner/{f.practitioner}", "patientId": f.patient, "encounterId": f.encounter,
                     "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                     "entry": [{"fullUrl": f"{f.base}/{o['resourceType']}/{o['id']}", "resource": o}
                                               for o in orders]}}
    if hook == "order-select":
        context["selections"] = [f"{orders[0]['resourceType']}/{orders[0]['id']}"]
    return {
        "hook": hook, "hookInstance": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "fhirServer": f.base,
        "context": context,
        "prefetch": {"patient": patient(f), "encounter": encounter(f, cls),
                     "conditions": searchset(f, conditions), "coverage": searchset(f, [coverage(f)])},
    }


IMP = {"system": ACT, "code": "IMP", "display": "inpatient encounter"}
AMB = {"system": ACT, "code": "AMB", "display": "ambulatory"}
EMER_LOCAL = {"system": f"{EPIC}.10.696784.13260", "code": "EMER", "display": "Emergency"}
OBSENC = {"system": ACT, "code": "OBSENC", "display": "observation encounter"}
INPATIENT_WORD = {"system": ORACLE_CODESET + "71", "code": "inpatient", "display": "Inpatient"}
AMB_LOCAL = {"system": f"{EPIC}.10.696784.13260", "code": "5", "display": "Outpatient"}


def scenarios() -> dict[str, dict]:  # noqa: PLR0915 - one block per fixture reads best
    s: dict[str, dict] = {}
    e, o, m = EPIC_F, ORACLE_F, MEDPLUM_F

    # --- 1. Necessity from SNOMED CT and reasonReference ---------------------------------------------------
    # The sandbox's case: an order whose reason is the SNOMED CT concept for pleural effusion.
    s["ehr-epic-order-snomed-reason.order-sign"] = order_call(e, "order-sign", [service_request(
        e, "eSr.1001", [e.local("110045", "THORACENTESIS US GUIDED"), {"system": CPT, "code": "32555"}],
        "US guided thoracentesis", bodySite=[{"coding": [RIGHT_PLEURA], "text": "Right pleural space"}],
        reasonCode=[{"coding": [EFFUSION], "text": "Pleural effusion"}])], [], IMP)
    # An Oracle-style order whose reason is a contained Condition (SNOMED + ICD-10-CM), no bodySite coding.
    contained = {"resourceType": "Condition", "id": "dx1",
                 "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                 "code": {"coding": [PNEUMOTHORAX | {"userSelected": True},
                                     {"system": ICD, "code": "J93.9", "display": "Pneumothorax, unspecified"}],
                          "text": "Pneumothorax"},
                 "subject": ref(f"Patient/{o.patient}")}
    s["ehr-oracle-order-contained-reason.order-sign"] = order_call(o, "order-sign", [service_request(
        o, "310045001", [o.local("2780123", "Thoracentesis"), {"system": CPT, "code": "32554"}], "Thoracentesis",
        contained=[contained], reasonReference=[ref("#dx1", "Pneumothorax")],
        bodySite=[{"coding": [o.local("L1", "Left chest") | {"userSelected": False}, LEFT], "text": "Left chest"}])],
        [], OBSENC)
    # Medplum-style discharge: the only diagnosis is a SNOMED CT Condition; the card names it in SNOMED words.
    p1 = procedure(m, "0191e7f3-0a11-4c1e-8b2d-1f3e5a7c9b01", [THORACENTESIS], "Thoracentesis",
                   body_site=[{"coding": [RIGHT_PLEURA]}], note=[{"text": FULL_NOTE}])
    s["ehr-medplum-snomed-condition.encounter-discharge"] = encounter_call(m, "encounter-discharge", [
        condition(m, "0191e7f3-1b22-4d2f-9c3e-2a4f6b8d0c12", [EFFUSION], "Pleural effusion"), p1,
        imaging(m, "0191e7f3-2c33-4e3a-8d4f-3b5a7c9e1d23", "10:02", [series("2.25.7001", "US", 4)],
                procedureReference=ref(f"Procedure/{p1['id']}"))], IMP)
    # Epic-style: the procedure cites a problem-list Condition (no encounter) by absolute URL.
    problem = condition(e, "eCnd.88", [HEART_FAILURE, {"system": ICD, "code": "I50.9",
                                                       "display": "Heart failure, unspecified"}],
                        "Congestive heart failure", encounter=False, category="problem-list-item")
    s["ehr-epic-reason-reference-absolute.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        problem, procedure(e, "ePrc.4401", [THORACENTESIS, e.local("110044", "THORACENTESIS")], "Thoracentesis",
                           body_site=[{"coding": [LEFT_PLEURA]}], note=[{"text": FULL_NOTE}],
                           reasonReference=[e.absolute("Condition/eCnd.88") | {"display": "CHF"}])], IMP)
    # Negative: the only coded reason (SNOMED CT low back pain) does not support a thoracentesis.
    s["ehr-oracle-snomed-unsupported.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120045", [BACK_PAIN], "Low back pain"),
        procedure(o, "660021", [THORACENTESIS], "Thoracentesis", body_site=[{"coding": [RIGHT]}],
                  reasonCode=[{"coding": [BACK_PAIN]}], note=[{"text": FULL_NOTE}])], IMP)
    # Paracentesis with the SNOMED CT ascites reason on the procedure; guidance study in the time window.
    s["ehr-oracle-paracentesis-snomed-ascites.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        procedure(o, "660031", [PARACENTESIS, o.local("2780200", "Paracentesis")], "Paracentesis",
                  reasonCode=[{"coding": [ASCITES], "text": "Ascites"}], note=[{"text": PARA_NOTE}]),
        imaging(o, "770031", "09:50", [series("2.25.7101", "US", 2, count_field=True)], study_modality="US")], AMB)

    # Codings with HL7 OIDs as systems (CDA-derived data): SNOMED CT, ICD-10-CM, CPT read as the canonical URIs.
    oid_sct, oid_icd = "urn:oid:2.16.840.1.113883.6.96", "urn:oid:2.16.840.1.113883.6.90"
    s["ehr-oracle-oid-systems.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120050", [J90 | {"system": oid_icd}], "Pleural effusion"),
        procedure(o, "660081", [THORACENTESIS | {"system": oid_sct},
                                {"system": "urn:oid:2.16.840.1.113883.6.12", "code": "32554"}], "Thoracentesis",
                  body_site=[{"coding": [LEFT_PLEURA | {"system": oid_sct}]}], note=[{"text": FULL_NOTE}]),
        imaging(o, "770081", "10:01", [series("2.25.8501", "US", 2)], procedureReference=ref("Procedure/660081"))],
        IMP)

    # --- 2. ICD-10-PCS --------------------------------------------------------------------------------------
    # Inpatient coding: drainage of the right pleural cavity, percutaneous, diagnostic (0W993ZX); no bodySite.
    s["ehr-oracle-pcs-right-diagnostic.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120046", [J90, EFFUSION], "Pleural effusion"),
        procedure(o, "660041", [{"system": PCS, "code": "0W993ZX",
                                 "display": "Drainage of Right Pleural Cavity, Percutaneous Approach, Diagnostic"}],
                  "Diagnostic thoracentesis", note=[{"text": FULL_NOTE}]),
        imaging(o, "770041", "09:58", [series("2.25.7201", "US", 3)],
                procedureReference=o.absolute("Procedure/660041"))], IMP)
    # Left pleural cavity with a drainage device left in (0W9B30Z): the indwelling approach, 32557-LT.
    s["ehr-epic-pcs-left-drain.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.91", [J90], "Pleural effusion"),
        procedure(e, "ePrc.4501", [{"system": PCS, "code": "0W9B30Z"}, e.local("110060", "CHEST TUBE PLACEMENT")],
                  "Pigtail pleural catheter", note=[{"text": FULL_NOTE.replace(", catheter removed at the end", "")}]),
        imaging(e, "eImg.4501", "09:55", [series("2.25.7301", "US", 2, laterality=LEFT)])], IMP)
    # Peritoneal cavity, percutaneous, no device (0W9G3ZZ): paracentesis without imaging, 49082.
    s["ehr-medplum-pcs-paracentesis.encounter-discharge"] = encounter_call(m, "encounter-discharge", [
        condition(m, "0191e7f4-0a11-4c1e-8b2d-1f3e5a7c9b02", [R188], "Other ascites"),
        procedure(m, "0191e7f4-1b22-4d2f-9c3e-2a4f6b8d0c13", [{"system": PCS, "code": "0W9G3ZZ"}],
                  "Paracentesis", note=[{"text": PARA_NOTE}])], AMB)
    # Negative: a peritoneal drainage catheter left in (0W9G30Z) is not a paracentesis: no card for it; the
    # right thoracentesis of the same stay (0W993ZZ, no imaging) gets its own.
    s["ehr-epic-pcs-peritoneal-catheter.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.92", [R188, J90], "Ascites and pleural effusion"),
        procedure(e, "ePrc.4601", [{"system": PCS, "code": "0W9G30Z"}, e.local("110077", "PERITONEAL DRAIN")],
                  "Peritoneal drainage catheter placement"),
        procedure(e, "ePrc.4602", [{"system": PCS, "code": "0W993ZZ"}], "Thoracentesis", start="14:00", end="14:20",
                  note=[{"text": FULL_NOTE}])], IMP)
    # Both pleural cavities by PCS in one session, each with its own US study: one 32555-50 line.
    s["ehr-oracle-pcs-bilateral.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120047", [J90], "Pleural effusion"),
        procedure(o, "660051", [{"system": PCS, "code": "0W993ZZ"}], "Thoracentesis right", start="10:00",
                  end="10:20", note=[{"text": FULL_NOTE}]),
        procedure(o, "660052", [{"system": PCS, "code": "0W9B3ZZ"}], "Thoracentesis left", start="10:35",
                  end="10:55", note=[{"text": FULL_NOTE}]),
        imaging(o, "770051", "09:58", [series("2.25.7401", "US", 2)], procedureReference=ref("Procedure/660051")),
        imaging(o, "770052", "10:33", [series("2.25.7402", "US", 2)], procedureReference=ref("Procedure/660052"))],
        IMP)
    # A local code with text only (Epic EAP): recognised by the pack's words; side from bodySite text.
    s["ehr-epic-local-code-text-only.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.93", [J90, EFFUSION], "Pleural effusion"),
        procedure(e, "ePrc.4701", [e.local("110099", "THORACENTESIS, US GUIDED")], "Thoracentesis, US guided",
                  body_site=[{"text": "Right hemithorax"}], note=[{"text": FULL_NOTE}]),
        imaging(e, "eImg.4701", "09:57", [series("2.25.7501", "US", 2)],
                procedureReference=ref("Procedure/ePrc.4701"))], IMP)

    # --- 3. ImagingStudy as PACS-fed EHRs send it -------------------------------------------------------------
    # Modality and laterality only on the series, instances only listed: the side comes from the series.
    s["ehr-medplum-series-laterality.encounter-discharge"] = encounter_call(m, "encounter-discharge", [
        condition(m, "0191e7f5-0a11-4c1e-8b2d-1f3e5a7c9b03", [J90], "Pleural effusion"),
        procedure(m, "0191e7f5-1b22-4d2f-9c3e-2a4f6b8d0c14", [THORACENTESIS], "Thoracentesis",
                  note=[{"text": FULL_NOTE}]),
        imaging(m, "0191e7f5-2c33-4e3a-8d4f-3b5a7c9e1d25", "10:01",
                [series("2.25.7601", "US", 3, laterality=UNILATERAL_LEFT)],
                procedureReference=ref("Procedure/0191e7f5-1b22-4d2f-9c3e-2a4f6b8d0c14"))], IMP)
    # The US study in the time window is of the other side (series.laterality left): not this guidance.
    s["ehr-epic-guidance-other-side.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.94", [J90], "Pleural effusion"),
        procedure(e, "ePrc.4801", [THORACENTESIS], "Thoracentesis", body_site=[{"coding": [RIGHT_PLEURA]}],
                  note=[{"text": FULL_NOTE}]),
        imaging(e, "eImg.4801", "09:59", [series("2.25.7701", "US", 2, laterality=LEFT)])], IMP)
    # Modality OT ("other", as archived captures often arrive), but a procedureCode (CPT 76942 and LOINC
    # 24662-9) says it was guidance; linked by basedOn (absolute URLs).
    s["ehr-oracle-procedurecode-guidance.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120048", [J90], "Pleural effusion"),
        procedure(o, "660061", [THORACENTESIS], "Thoracentesis", body_site=[{"coding": [LEFT_PLEURA]}],
                  basedOn=[o.absolute("ServiceRequest/310061")], note=[{"text": FULL_NOTE}]),
        imaging(o, "770061", "08:30", [series("2.25.7801", "OT", 2)],
                procedure_codes=[{"system": CPT, "code": "76942"},
                                 {"system": LOINC, "code": "24662-9",
                                  "display": "US Guidance for aspiration of Pleural space"}],
                basedOn=[o.absolute("ServiceRequest/310061")])], IMP)
    # Series bodySite names the side (right pleura); the procedure has no bodySite; SNOMED CT heart failure.
    s["ehr-medplum-series-bodysite.note-sign"] = _note_sign_series_bodysite(m)
    # A chest ultrasound (series.bodySite thoracic structure) just before a paracentesis is not its guidance.
    s["ehr-epic-paracentesis-chest-study.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.99", [R188], "Other ascites"),
        procedure(e, "ePrc.5201", [PARACENTESIS], "Paracentesis", note=[{"text": PARA_NOTE}]),
        imaging(e, "eImg.5201", "09:40", [series("2.25.8601", "US", 3, body_site=THORAX)])], AMB)
    # Dry tap in an observation encounter: the localizing scan (procedureCode 76604) is billed with 26.
    s["ehr-epic-dry-tap-obsenc.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.95", [J90], "Pleural effusion"),
        procedure(e, "ePrc.4901", [THORACENTESIS], "Thoracentesis", end=None, status="not-done",
                  statusReason={"text": "Ultrasound showed too little fluid to drain safely"},
                  body_site=[{"coding": [RIGHT_PLEURA]}]),
        imaging(e, "eImg.4901", "09:55", [series("2.25.7901", "US", 2, count_field=True)],
                procedure_codes=[{"system": CPT, "code": "76604"}],
                procedureReference=ref("Procedure/ePrc.4901"))], OBSENC)

    # --- 4. Encounter class and orders as EHRs send them ---------------------------------------------------
    # Encounter.class in a local system with a word ("inpatient"): a facility encounter, so 76604-26.
    s["ehr-oracle-dry-tap-class-word.encounter-discharge"] = encounter_call(o, "encounter-discharge", [
        condition(o, "88120049", [J90], "Pleural effusion"),
        procedure(o, "660071", [THORACENTESIS], "Thoracentesis", end=None, status="not-done",
                  statusReason={"coding": [o.local("NF1", "No fluid")], "text": "Dry tap"},
                  body_site=[{"coding": [LEFT_PLEURA]}]),
        imaging(o, "770071", "09:55", [series("2.25.8001", "US", 1)], procedureReference=ref("Procedure/660071"))],
        INPATIENT_WORD)
    # Encounter.class EMER in an Epic-style local system: facility too.
    s["ehr-epic-dry-tap-emer-local.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.96", [R188], "Other ascites"),
        procedure(e, "ePrc.5001", [PARACENTESIS], "Paracentesis", end=None, status="not-done",
                  statusReason={"text": "No drainable ascites on bedside ultrasound"}),
        imaging(e, "eImg.5001", "09:55", [series("2.25.8101", "US", 2)],
                procedureReference=ref("Procedure/ePrc.5001"))],
        EMER_LOCAL)
    # Outpatient class as a local numeric code with the word "Outpatient": no 26.
    s["ehr-epic-dry-tap-outpatient-local.encounter-discharge"] = encounter_call(e, "encounter-discharge", [
        condition(e, "eCnd.97", [J90], "Pleural effusion"),
        procedure(e, "ePrc.5101", [THORACENTESIS], "Thoracentesis", end=None, status="not-done",
                  statusReason={"text": "Too little fluid on ultrasound"}, body_site=[{"coding": [LEFT_PLEURA]}]),
        imaging(e, "eImg.5101", "09:55", [series("2.25.8201", "US", 2)],
                procedureReference=ref("Procedure/ePrc.5101"))],
        AMB_LOCAL)
    # draftOrders mixing ServiceRequests and MedicationRequests; only the thoracentesis order is coded.
    s["ehr-epic-mixed-draft-orders.order-sign"] = order_call(e, "order-sign", [
        medication_request(e, "eMed.1", "1010671", "lidocaine 10 MG/ML Injectable Solution"),
        service_request(e, "eSr.2001", [e.local("110044", "THORACENTESIS"), {"system": CPT, "code": "32554"}],
                        "Thoracentesis", bodySite=[{"coding": [LEFT_PLEURA]}],
                        reasonCode=[{"coding": [J90]}]),
        service_request(e, "eSr.2002", [{"system": CPT, "code": "71045"}, e.local("IMG45", "XR CHEST 1 VIEW")],
                        "XR chest 1 view, after the procedure"),
        medication_request(e, "eMed.2", "198440", "acetaminophen 500 MG Oral Tablet")], [], IMP)
    # A thoracentesis order, a separate ultrasound guidance order and a medication: guided, guidance deleted.
    s["ehr-oracle-guidance-order-mixed.order-sign"] = order_call(o, "order-sign", [
        service_request(o, "310081", [o.local("2780123", "Thoracentesis"), {"system": CPT, "code": "32554"}],
                        "Thoracentesis", bodySite=[{"coding": [RIGHT]}, {"text": "posterior chest"}],
                        reasonCode=[{"coding": [EFFUSION]}]),
        service_request(o, "310082", [{"system": CPT, "code": "76942"}, o.local("2790001", "US guidance")],
                        "US guidance for needle placement"),
        medication_request(o, "410083", "1010671", "lidocaine 10 MG/ML Injectable Solution")], [], IMP)
    # Two thoracentesis orders (right and left) and a premedication signed together: one bilateral line.
    s["ehr-medplum-bilateral-orders.order-sign"] = order_call(m, "order-sign", [
        service_request(m, "0191e7f8-0a11-4c1e-8b2d-1f3e5a7c9b06", [THORACENTESIS], "Thoracentesis, right",
                        bodySite=[{"coding": [RIGHT_PLEURA]}], reasonCode=[{"coding": [EFFUSION]}]),
        medication_request(m, "0191e7f8-1b22-4d2f-9c3e-2a4f6b8d0c17", "1010671", "lidocaine injection"),
        service_request(m, "0191e7f8-2c33-4e3a-8d4f-3b5a7c9e1d28", [THORACENTESIS], "Thoracentesis, left",
                        bodySite=[{"coding": [LEFT_PLEURA]}], reasonCode=[{"coding": [EFFUSION]}])], [], IMP)
    # order-select of a paracentesis order coded in SNOMED CT with a SNOMED CT reason: an info preview.
    s["ehr-medplum-paracentesis.order-select"] = order_call(m, "order-select", [
        service_request(m, "0191e7f6-0a11-4c1e-8b2d-1f3e5a7c9b04", [PARACENTESIS], "Paracentesis",
                        reasonCode=[{"coding": [ASCITES]}]),
        medication_request(m, "0191e7f6-1b22-4d2f-9c3e-2a4f6b8d0c15", "1010671", "lidocaine injection")], [], AMB)
    # Note-sign (Epic-style): the signed note documents the procedure; volume also as an Observation in litres.
    e_note = document(e, "eDoc.6001", FULL_NOTE, [f"{EPIC_BASE}/Procedure/ePrc.6001"])
    s["ehr-epic-note-sign.note-sign"] = encounter_call(e, "org.procedure-coding.note-sign", [
        condition(e, "eCnd.98", [EFFUSION, J90], "Pleural effusion"),
        procedure(e, "ePrc.6001", [THORACENTESIS, {"system": CPT, "code": "32555"}, e.local("110045", "THORA")],
                  "US guided thoracentesis", body_site=[{"coding": [RIGHT_PLEURA]}]),
        imaging(e, "eImg.6001", "10:01", [series("2.25.8301", "US", 5)],
                procedureReference=e.absolute("Procedure/ePrc.6001")),
        observation_volume(e, "eObs.6001", "ePrc.6001", 0.95), e_note], IMP, note=e_note)
    return s


def _note_sign_series_bodysite(m: Flavour) -> dict:
    pid = "0191e7f7-1b22-4d2f-9c3e-2a4f6b8d0c16"
    note = document(m, "0191e7f7-3d44-4f4b-9e5a-4c6b8d0f2e37", FULL_NOTE, [f"Procedure/{pid}"])
    return encounter_call(m, "org.procedure-coding.note-sign", [
        condition(m, "0191e7f7-0a11-4c1e-8b2d-1f3e5a7c9b05", [HEART_FAILURE], "Heart failure"),
        procedure(m, pid, [THORACENTESIS], "Thoracentesis"),
        imaging(m, "0191e7f7-2c33-4e3a-8d4f-3b5a7c9e1d27", "10:00",
                [series("2.25.8401", "US", 2, body_site=RIGHT_PLEURA)],
                procedureReference=ref(f"Procedure/{pid}")), note], IMP, note=note)


def write(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    for name, call in scenarios().items():
        write(HERE / "requests" / f"{name}.json", call)
