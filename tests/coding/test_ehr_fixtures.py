"""The EHR-shaped fixtures (`fhir_fixtures/requests/ehr-*.json`, issue 12) give their expected cards in both
modes: with the EHR's prefetch, and with no prefetch at all, the data read from the loopback FHIR server.

Each row: subject -> (billable lines, not separately billable, documentation gaps, indicator)."""

from __future__ import annotations

import pytest

from tests import calls

from .helpers import REQUESTS, assert_expected_cards, labels, post, request, suggestions

EXPECTED: dict[str, dict[str, tuple[list[str], list[str], list[str], str]]] = {
    # 1. Necessity from SNOMED CT: the sandbox's pleural effusion reason on an order (Epic-style order).
    "ehr-epic-order-snomed-reason.order-sign": {"ServiceRequest/eSr.1001": (["32555-RT"], [], [], "info")},
    # 1. A contained Condition cited by reasonReference "#dx1" (SNOMED CT pneumothorax), side from qualifier 7771000.
    "ehr-oracle-order-contained-reason.order-sign": {"ServiceRequest/310045001": (["32554-LT"], [], [], "info")},
    # 1. The encounter's only diagnosis is a SNOMED CT Condition.
    "ehr-medplum-snomed-condition.encounter-discharge": {
        "Procedure/0191e7f3-0a11-4c1e-8b2d-1f3e5a7c9b01": (["32555-RT"], [], [], "info")},
    # 1. A problem-list Condition (no encounter) cited by an absolute reasonReference URL.
    "ehr-epic-reason-reference-absolute.encounter-discharge": {"Procedure/ePrc.4401": (["32554-LT"], [], [], "info")},
    # 1. Negative: a SNOMED CT reason that does not support the family.
    "ehr-oracle-snomed-unsupported.encounter-discharge": {
        "Procedure/660021": (["32554-RT"], [], ["indication"], "warning")},
    "ehr-oracle-paracentesis-snomed-ascites.encounter-discharge": {"Procedure/660031": (["49083"], [], [], "info")},
    # Systems as HL7 OIDs: recognised, side and diagnosis read; the 32554 on the resource is corrected.
    "ehr-oracle-oid-systems.encounter-discharge": {"Procedure/660081": (["32555-LT"], [], [], "warning")},
    # 2. ICD-10-PCS: family, side (body part) and approach (device) from the code's characters.
    "ehr-oracle-pcs-right-diagnostic.encounter-discharge": {"Procedure/660041": (["32555-RT"], [], [], "info")},
    "ehr-epic-pcs-left-drain.encounter-discharge": {"Procedure/ePrc.4501": (["32557-LT"], [], [], "info")},
    "ehr-medplum-pcs-paracentesis.encounter-discharge": {
        "Procedure/0191e7f4-1b22-4d2f-9c3e-2a4f6b8d0c13": (["49082"], [], [], "info")},
    "ehr-epic-pcs-peritoneal-catheter.encounter-discharge": {  # a drainage catheter left in is not ours
        "Procedure/ePrc.4602": (["32554-RT"], [], [], "info")},
    "ehr-oracle-pcs-bilateral.encounter-discharge": {
        "Procedure/660051": (["32555-50"], [], [], "info"), "Procedure/660052": ([], [], [], "info")},
    # 2. A local code with text only.
    "ehr-epic-local-code-text-only.encounter-discharge": {"Procedure/ePrc.4701": (["32555-RT"], [], [], "info")},
    # 3. ImagingStudy: side from series.laterality, modality only on the series, instances only listed.
    "ehr-medplum-series-laterality.encounter-discharge": {
        "Procedure/0191e7f5-1b22-4d2f-9c3e-2a4f6b8d0c14": (["32555-LT"], [], [], "info")},
    # 3. A study of the other side is not this procedure's guidance.
    "ehr-epic-guidance-other-side.encounter-discharge": {"Procedure/ePrc.4801": (["32554-RT"], [], [], "info")},
    # 3. Modality OT, but procedureCode CPT 76942 / LOINC 24662-9; linked by basedOn (absolute URLs).
    "ehr-oracle-procedurecode-guidance.encounter-discharge": {"Procedure/660061": (["32555-LT"], [], [], "info")},
    # 3. Site from series.bodySite: a chest study is not a paracentesis's guidance.
    "ehr-epic-paracentesis-chest-study.encounter-discharge": {"Procedure/ePrc.5201": (["49082"], [], [], "info")},
    # 3. Side from series.bodySite (right pleura); SNOMED CT heart failure supports it.
    "ehr-medplum-series-bodysite.note-sign": {
        "Procedure/0191e7f7-1b22-4d2f-9c3e-2a4f6b8d0c16": (["32555-RT"], [], [], "info")},
    # 4. Encounter.class: OBSENC (ActCode), a word in a local system, EMER in a local system, local outpatient.
    "ehr-epic-dry-tap-obsenc.encounter-discharge": {"Procedure/ePrc.4901": (["76604-26"], [], [], "info")},
    "ehr-oracle-dry-tap-class-word.encounter-discharge": {"Procedure/660071": (["76604-26"], [], [], "info")},
    "ehr-epic-dry-tap-emer-local.encounter-discharge": {"Procedure/ePrc.5001": (["76705-26"], [], [], "info")},
    "ehr-epic-dry-tap-outpatient-local.encounter-discharge": {"Procedure/ePrc.5101": (["76604"], [], [], "info")},
    # 4. draftOrders mixing ServiceRequests and MedicationRequests; CPT + local codes; bodySite and reasonCode.
    "ehr-epic-mixed-draft-orders.order-sign": {"ServiceRequest/eSr.2001": (["32554-LT"], [], [], "info")},
    "ehr-oracle-guidance-order-mixed.order-sign": {
        "ServiceRequest/310081": (["32555-RT"], ["76942"], [], "warning")},
    "ehr-medplum-bilateral-orders.order-sign": {
        "ServiceRequest/0191e7f8-0a11-4c1e-8b2d-1f3e5a7c9b06": (["32554-50"], [], [], "info"),
        "ServiceRequest/0191e7f8-2c33-4e3a-8d4f-3b5a7c9e1d28": ([], [], [], "info")},
    "ehr-medplum-paracentesis.order-select": {
        "ServiceRequest/0191e7f6-0a11-4c1e-8b2d-1f3e5a7c9b04": (["49082"], [], [], "info")},
    "ehr-epic-note-sign.note-sign": {"Procedure/ePrc.6001": (["32555-RT"], [], [], "info")},
}


def _check(body: dict, expected: dict) -> None:
    found = suggestions(body)
    assert_expected_cards(found, expected)


def test_every_ehr_fixture_has_its_expectation():
    assert len(EXPECTED) >= 20
    assert {p.name.removesuffix(".json") for p in REQUESTS.glob("ehr-*.json")} == set(EXPECTED)


# A closed loopback port: a prefetch-mode call that tried to read anything would fail at once, never leave the host.
CLOSED_SERVER = "http://127.0.0.1:9/fhir"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_prefetch_mode(client, name):
    call = request(name)
    assert call["fhirServer"].startswith("https://")  # as the EHR sends it
    body = post(client, {**call, "fhirServer": CLOSED_SERVER})
    _check(body, EXPECTED[name])
    for card in body["cards"]:
        assert "Data not read" not in card["detail"] and "127.0.0.1" not in card["detail"], card["detail"]


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fetch_mode(client, fhir_server, name):
    """No prefetch: the service reads everything from the loopback FHIR server and codes the same."""
    fhir_server.reset()
    call, resources = calls.fetch_mode(request(name), fhir_server.base_url)
    fhir_server.load(resources)
    body = post(client, call)
    _check(body, EXPECTED[name])
    for card in body["cards"]:
        assert "Data not read" not in card["detail"], card["detail"]


def test_cards_name_the_diagnosis_in_its_own_system_and_words(client):
    detail = suggestions(post(client, request("ehr-epic-order-snomed-reason.order-sign")))[
        "ServiceRequest/eSr.1001"]["card"]["detail"]
    assert "SNOMED CT 60046008 Pleural effusion" in detail and "ServiceRequest/eSr.1001 reasonCode" in detail
    detail = suggestions(post(client, request("ehr-oracle-order-contained-reason.order-sign")))[
        "ServiceRequest/310045001"]["card"]["detail"]
    assert "SNOMED CT 36118008 Pneumothorax" in detail and "ServiceRequest/310045001\\#dx1" in detail
    detail = suggestions(post(client, request("ehr-epic-reason-reference-absolute.encounter-discharge")))[
        "Procedure/ePrc.4401"]["card"]["detail"]
    assert "SNOMED CT 84114007 Heart failure" in detail and "Condition/eCnd.88" in detail


def test_pcs_and_imaging_reasons_are_on_the_card(client):
    detail = suggestions(post(client, request("ehr-epic-pcs-left-drain.encounter-discharge")))[
        "Procedure/ePrc.4501"]["card"]["detail"]
    assert "ICD\\-10\\-PCS 0W9B30Z" in detail and "device 0 = indwelling" in detail
    assert "body part \\(character 4\\) of ICD\\-10\\-PCS 0W9B30Z" in detail
    detail = suggestions(post(client, request("ehr-epic-guidance-other-side.encounter-discharge")))[
        "Procedure/ePrc.4801"]["card"]["detail"]
    assert "ImagingStudy/eImg.4801 shows the other side" in detail
    detail = suggestions(post(client, request("ehr-oracle-procedurecode-guidance.encounter-discharge")))[
        "Procedure/660061"]["card"]["detail"]
    assert "procedureCode CPT 76942" in detail


def _order_citing(reference: str) -> dict:
    """The Epic-style SNOMED order with its reason moved to a problem-list Condition it cites."""
    call = request("ehr-epic-order-snomed-reason.order-sign")
    order = call["context"]["draftOrders"]["entry"][0]["resource"]
    del order["reasonCode"]
    order["reasonReference"] = [{"reference": reference}]
    return call


PROBLEM = {"resourceType": "Condition", "id": "eCnd.501",
           "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                          "code": "active"}]},
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "60046008",
                                "display": "Pleural effusion"}]},
           "subject": {"reference": "Patient/eVbT3x2Gq0.3"}}


@pytest.mark.integration
def test_a_cited_condition_missing_from_the_prefetch_is_read_from_the_server(client, fhir_server):
    fhir_server.reset()
    fhir_server.load([PROBLEM])
    call = {**_order_citing("Condition/eCnd.501"), "fhirServer": fhir_server.base_url}

    ext = suggestions(post(client, call))["ServiceRequest/eSr.1001"]

    assert "indication" not in ext.get("documentationGaps", [])
    assert "SNOMED CT 60046008 Pleural effusion (Condition/eCnd.501)" in ext["card"]["detail"].replace("\\", "")


def test_a_cited_condition_that_cannot_be_read_is_named(client):
    ext = suggestions(post(client, {**_order_citing("Condition/eCnd.501"), "fhirServer": CLOSED_SERVER}))[
        "ServiceRequest/eSr.1001"]

    assert ext["documentationGaps"] == ["indication"]
    detail = ext["card"]["detail"].replace("\\", "")
    assert "Condition/eCnd.501 (reasonReference): the FHIR server could not be reached" in detail


@pytest.mark.integration
def test_a_cited_condition_on_another_server_is_not_read(client, fhir_server):
    fhir_server.reset()
    fhir_server.load([PROBLEM])
    call = {**_order_citing("https://elsewhere.example.org/fhir/Condition/eCnd.501"),
            "fhirServer": fhir_server.base_url}

    ext = suggestions(post(client, call))["ServiceRequest/eSr.1001"]

    assert ext["documentationGaps"] == ["indication"]
    assert "refused a link that leaves the FHIR server" in ext["card"]["detail"]


def test_codings_with_hl7_oids_are_read_and_the_wrong_cpt_is_replaced(client):
    card = suggestions(post(client, request("ehr-oracle-oid-systems.encounter-discharge")))["Procedure/660081"]["card"]
    assert "ICD\\-10\\-CM J90" in card["detail"] and "bodySite code 53727004" in card["detail"]
    coding = card["suggestions"][0]["actions"][0]["resource"]["code"]["coding"]
    assert [c["code"] for c in coding] == ["91602002", "32555"], "the OID-coded 32554 is replaced, not kept"


def test_a_refuted_condition_supports_nothing_even_when_cited(client):
    call = request("ehr-epic-reason-reference-absolute.encounter-discharge")
    problem = call["prefetch"]["conditions"]["entry"][0]["resource"]
    problem["verificationStatus"]["coding"][0]["code"] = "refuted"
    ext = suggestions(post(client, {**call, "fhirServer": CLOSED_SERVER}))["Procedure/ePrc.4401"]
    assert ext["documentationGaps"] == ["indication"]


OTHER_FIXTURES = sorted(p.name.removesuffix(".json") for p in REQUESTS.glob("*.json") if not p.name.startswith("ehr-"))


def _coding(body: dict) -> list[tuple[str, str]]:
    return sorted((repr(sorted(c.get("extension", {}).items())), c["indicator"]) for c in body["cards"])


@pytest.mark.integration
@pytest.mark.parametrize("name", OTHER_FIXTURES)
def test_every_other_fixture_codes_the_same_in_fetch_mode(client, fhir_server, name):
    """Any request fixture, its prefetch served by the FHIR server instead: the same lines, gaps and indicators."""
    call = request(name)
    prefetched = post(client, {**call, "fhirServer": CLOSED_SERVER} if "fhirServer" in call else call)
    fhir_server.reset()
    fetching, resources = calls.fetch_mode(call, fhir_server.base_url)
    fhir_server.load(resources)
    assert _coding(post(client, fetching)) == _coding(prefetched)


def test_a_dicom_laterality_value_on_the_series_gives_the_side(client):
    call = request("ehr-medplum-series-laterality.encounter-discharge")
    study = call["prefetch"]["imagingStudies"]["entry"][0]["resource"]
    study["series"][0]["laterality"] = {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "R"}
    found = suggestions(post(client, {**call, "fhirServer": CLOSED_SERVER}))
    assert labels(found["Procedure/0191e7f5-1b22-4d2f-9c3e-2a4f6b8d0c14"]) == ["32555-RT"]
