"""Hypothesis strategies for hostile FHIR data: any JSON, resources with wrong types and missing fields,
huge strings, odd dates and time zones, unknown codes.

Shared by the property tests of the FHIR layer and of the coding engine.
"""

from __future__ import annotations

from hypothesis import strategies as st

from cds_service.fhir.shape import FIELDS

RESOURCE_TYPES = sorted(FIELDS) + ["ServiceRequest", "Bundle", "OperationOutcome", "Basic", ""]
SYSTEMS = (
    "http://snomed.info/sct",
    "http://www.ama-assn.org/go/cpt",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://loinc.org",
    "http://dicom.nema.org/resources/ontology/DCM",
    "urn:oid:2.16.840.1.113883.6.96",
    "",
)
# Codes the packs may know and codes nobody knows; the engine must code only what it recognises.
CODES = ("91602002", "264957007", "89305009", "32554", "32555", "49083", "76942", "J91.8", "US", "CT", "0", "")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)

odd_dates = st.one_of(
    st.sampled_from(
        [
            "2024-03-01T10:00:00Z", "2024-03-01", "2024-03", "2024", "2024-03-01T10:00:00+14:00",
            "2024-03-01T10:00:00-12:00", "2024-02-30T10:00:00Z", "2024-03-01T24:00:00Z", "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00", "2024-03-01T10:00:00", "2024-03-01T10:00:00.123456789Z", "yesterday",
            "2024-W09", "", "2024-03-01T10:00:00+99:99", "-2024-03-01", "2024-03-01T10:00:00 z",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.text(max_size=30),
)
huge_strings = st.sampled_from([100_000, 1_000_000]).map(lambda n: "thoracentesis " * (n // 14))
texts = st.one_of(st.text(max_size=40), huge_strings, st.sampled_from(["left", "right", "bilateral", "ultrasound"]))


def coding() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {},
        optional={
            "system": st.one_of(st.sampled_from(SYSTEMS), json_values),
            "code": st.one_of(st.sampled_from(CODES), st.text(max_size=12), json_values),
            "display": st.one_of(texts, json_values),
        },
    )


def concept() -> st.SearchStrategy:
    return st.one_of(
        st.fixed_dictionaries({}, optional={"coding": st.one_of(st.lists(coding(), max_size=3), json_values),
                                            "text": st.one_of(texts, json_values)}),
        json_values,
    )


def reference() -> st.SearchStrategy:
    return st.one_of(
        st.fixed_dictionaries({"reference": st.one_of(
            st.sampled_from(["Patient/p1", "Encounter/e1", "Procedure/p1", "ServiceRequest/o1", "Encounter/other",
                             "urn:uuid:1", "http://x/fhir/Procedure/p1/_history/2", "Procedure/", "/", ""]),
            st.text(max_size=20), json_values)}),
        json_values,
    )


def _listed(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(strategy, max_size=3), json_values)


FIELD_VALUES = {
    "status": st.one_of(st.sampled_from(["completed", "not-done", "in-progress", "draft", "active",
                                         "entered-in-error", "unknown", ""]), json_values),
    "intent": st.sampled_from(["order", "plan", "proposal"]),
    "code": concept(), "type": concept(), "class": st.one_of(coding(), _listed(concept())),
    "subject": reference(), "encounter": reference(), "context": reference(),
    "performedDateTime": odd_dates, "occurrenceDateTime": odd_dates, "effectiveDateTime": odd_dates,
    "started": odd_dates, "date": odd_dates,
    "performedPeriod": st.one_of(st.fixed_dictionaries({}, optional={"start": odd_dates, "end": odd_dates}),
                                 json_values),
    "period": st.fixed_dictionaries({}, optional={"start": odd_dates, "end": odd_dates}),
    "bodySite": _listed(concept()), "reasonCode": _listed(concept()), "reasonReference": _listed(reference()),
    "performer": _listed(st.fixed_dictionaries({"actor": reference()})), "focalDevice": _listed(json_values),
    "note": _listed(st.fixed_dictionaries({"text": texts})), "complication": _listed(concept()),
    "basedOn": _listed(reference()), "partOf": _listed(reference()), "report": _listed(reference()),
    "statusReason": concept(), "modality": _listed(coding()),
    "numberOfInstances": st.one_of(st.integers(-5, 10**12), st.floats(), json_values),
    "series": _listed(st.fixed_dictionaries({}, optional={"modality": coding(),
                                                          "numberOfInstances": st.integers(-1, 5)})),
    "procedureReference": reference(), "procedureCode": _listed(concept()),
    "valueQuantity": st.one_of(
        st.fixed_dictionaries({}, optional={"value": st.one_of(st.floats(), st.integers(), json_values),
                                            "unit": st.sampled_from(["mL", "L", "cc", "", "furlong"]),
                                            "code": st.sampled_from(["mL", "L", "[foz_us]"])}),
        json_values),
    "clinicalStatus": concept(), "verificationStatus": concept(), "category": _listed(concept()),
    "content": _listed(st.fixed_dictionaries({"attachment": st.one_of(
        st.fixed_dictionaries({}, optional={"contentType": st.sampled_from(["text/plain", "text/markdown",
                                                                            "application/pdf", ""]),
                                            "data": st.one_of(st.text(max_size=40),
                                                              st.sampled_from(["dGhvcmFjZW50ZXNpcw==", "@@@"]))}),
        json_values)})),
    "payor": _listed(st.fixed_dictionaries({}, optional={"display": texts, "reference": st.text(max_size=10)})),
    "requester": reference(), "selections": _listed(st.text(max_size=10)),
}


@st.composite
def fhir_resources(draw, resource_type: str | None = None) -> dict:
    """A resource of a type the service reads, with some fields plausible, some wrong, some missing."""
    rtype = resource_type or draw(st.sampled_from(RESOURCE_TYPES))
    resource: dict = {"resourceType": rtype}
    if draw(st.booleans()):
        resource["id"] = draw(st.one_of(st.from_regex(r"\A[A-Za-z0-9\-.]{1,64}\Z"), json_values))
    names = sorted(set(FIELDS.get(rtype, {})) | {"status", "code", "subject", "encounter", "context"})
    for name in draw(st.lists(st.sampled_from(names), max_size=8, unique=True)):
        strategy = FIELD_VALUES.get(name, json_values)
        resource[name] = draw(st.one_of(strategy, json_values) if draw(st.integers(0, 4)) == 0 else strategy)
    return resource


any_resource = st.one_of(fhir_resources(), json_values)


PLAUSIBLE_CODES = (
    {"coding": [{"system": "http://snomed.info/sct", "code": "91602002", "display": "Thoracentesis"}]},
    {"coding": [{"system": "http://snomed.info/sct", "code": "264957007"}]},
    {"coding": [{"system": "http://snomed.info/sct", "code": "89305009"}]},
    {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "32555"}]},
    {"text": "Ultrasound-guided pleural tap, left"},
    {"coding": [{"system": "http://snomed.info/sct", "code": "80146002", "display": "Appendectomy"}]},
    {"coding": [{"system": "http://example.org/local", "code": "THORA"}], "text": "bedside procedure"},
)


@st.composite
def plausible_acts(draw, resource_type: str) -> dict:
    """A Procedure or ServiceRequest that looks right, then has a few fields replaced by hostile values:
    the engine sees recognisable subjects next to broken fields, not only noise."""
    resource = {
        "resourceType": resource_type,
        "id": draw(st.sampled_from(["a1", "a2", "a3", "a4"])),
        "status": "completed" if resource_type == "Procedure" else "draft",
        "code": draw(st.sampled_from(PLAUSIBLE_CODES)),
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": draw(st.sampled_from(["Encounter/e1", "Encounter/other"]))},
    }
    if resource_type == "Procedure":
        resource["performedDateTime"] = draw(odd_dates)
    else:
        resource["intent"] = "order"
    names = sorted(set(FIELDS[resource_type]) - {"code"})
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        resource[name] = draw(st.one_of(FIELD_VALUES.get(name, json_values), json_values))
    return resource
