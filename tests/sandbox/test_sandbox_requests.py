"""The sandbox's own requests work unmodified: CORS, no encounterId, no fhirAuthorization, foreign orders,
context fields a hook does not define."""

from __future__ import annotations

import copy
import uuid

import pytest
from pytest_httpserver import HTTPServer

from cds_service.protocol.response_check import response_problems

from .conftest import (
    ORDER_SELECT,
    ORDER_SIGN,
    PAMA_SCREEN_HOOK,
    SANDBOX_ORIGIN,
    draft_bundle,
    medication_order,
    pama_context,
    pama_order,
    sandbox_call,
)

PATIENT = {"resourceType": "Patient", "id": "smart-1288992", "gender": "female", "birthDate": "1950-02-03"}


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def without_uuids(value):
    """The response with every uuid removed, to compare two answers that differ only in fresh uuids."""
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    return value


def test_preflight_and_discovery_as_the_sandbox_sends_them(client):
    preflight = client.options(
        "/cds-services",
        headers={
            "Origin": SANDBOX_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] in (SANDBOX_ORIGIN, "*")
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()

    discovery = client.get("/cds-services", headers={"Origin": SANDBOX_ORIGIN, "Accept": "application/json"})
    assert discovery.status_code == 200
    assert discovery.headers["Access-Control-Allow-Origin"] in (SANDBOX_ORIGIN, "*")
    services = discovery.get_json()["services"]
    # The sandbox keys services by URL (discovery URL + id) and gives up on an empty list.
    ids = [service["id"] for service in services]
    assert services and len(ids) == len(set(ids))
    hooks = {service["hook"]: service["id"] for service in services}
    assert hooks["order-select"] == "procedure-coding-order-select"
    assert hooks["order-sign"] == "procedure-coding-order-sign"


@pytest.mark.parametrize("path, hook", [(ORDER_SIGN, PAMA_SCREEN_HOOK), (ORDER_SELECT, PAMA_SCREEN_HOOK)])
def test_no_encounter_id_reads_patient_scoped_searches_without_authorization(
    client, httpserver: HTTPServer, path: str, hook: str
):
    """No encounterId and no prefetch: the encounter-scoped templates fall back to patient-scoped searches,
    the encounter read is skipped, and the open FHIR server is read with no Authorization header."""
    httpserver.expect_request("/fhir/Patient/smart-1288992").respond_with_json(PATIENT)
    httpserver.expect_request("/fhir/Condition").respond_with_json(searchset())
    httpserver.expect_request("/fhir/Coverage").respond_with_json(searchset())
    order = pama_order("smart-1288992", cpt="32555", reason="60046008")
    call = sandbox_call(hook, "smart-1288992", httpserver.url_for("/fhir"), **pama_context(order))

    response = client.post(path, json=call, headers={"Origin": SANDBOX_ORIGIN})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response_problems(response.get_json()) == []
    assert response.headers["Access-Control-Allow-Origin"] in (SANDBOX_ORIGIN, "*")
    seen = [(request.path, request.args.to_dict()) for request, _ in httpserver.log]
    assert ("/fhir/Patient/smart-1288992", {}) in seen
    assert ("/fhir/Condition", {"patient": "smart-1288992"}) in seen
    assert not [path for path, _ in seen if path.startswith("/fhir/Encounter")]
    assert not [args for _, args in seen if "encounter" in args]
    assert [request.headers.get("Authorization") for request, _ in httpserver.log] == [None] * len(seen)


def test_no_encounter_id_and_no_fhir_server_is_still_answered(client):
    """Nothing an order service reads is required: without encounterId, prefetch or server it answers 200."""
    order = pama_order("p1", cpt="32555", reason="60046008")
    call = sandbox_call("order-sign", "p1", "http://127.0.0.1:9/fhir", **pama_context(order))
    del call["fhirServer"]

    response = client.post(ORDER_SIGN, json=call)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response_problems(response.get_json()) == []


@pytest.mark.integration
@pytest.mark.parametrize(
    "path, hook, context",
    [
        (ORDER_SELECT, PAMA_SCREEN_HOOK, pama_context(pama_order("smart-1288992"))),
        (ORDER_SIGN, PAMA_SCREEN_HOOK, pama_context(pama_order("smart-1288992"))),
        (ORDER_SIGN, "order-sign", pama_context(pama_order("smart-1288992", cpt="75561", reason="13213009"))),
        (ORDER_SIGN, "order-sign", {"draftOrders": draft_bundle(medication_order("smart-1288992"))}),
        (
            ORDER_SELECT,
            "order-select",
            {
                "selections": ["MedicationRequest/request-123"],
                "draftOrders": draft_bundle(medication_order("smart-1288992")),
            },
        ),
    ],
    ids=["pama-ct-select", "pama-ct-sign", "pama-cardiac-mri-sign", "rx-sign", "rx-select"],
)
def test_orders_we_do_not_code_get_200_and_no_cards(client, fhir, path, hook, context):
    fhir.load([PATIENT])
    call = sandbox_call(hook, "smart-1288992", fhir.base_url, **copy.deepcopy(context))

    response = client.post(path, json=call, headers={"Origin": SANDBOX_ORIGIN})

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}


@pytest.mark.integration
def test_context_fields_the_hook_does_not_define_are_ignored(client, fhir):
    """The sandbox's order-sign carries `selections` (an order-select field): same answer as without it."""
    fhir.load([PATIENT])
    order = pama_order("smart-1288992", cpt="32555", reason="60046008")
    plain = sandbox_call("order-sign", "smart-1288992", fhir.base_url, draftOrders=draft_bundle(order))
    extended = copy.deepcopy(plain)
    extended["context"]["selections"] = [f"ServiceRequest/{order['id']}"]
    extended["context"]["somethingNew"] = {"from": "a later hook version"}

    first = client.post(ORDER_SIGN, json=plain)
    second = client.post(ORDER_SIGN, json=extended)

    assert first.status_code == second.status_code == 200, second.get_data(as_text=True)
    assert without_uuids(second.get_json()) == without_uuids(first.get_json())


def pleural_effusion(patient_id: str) -> dict:
    """A diagnosis recorded on the patient, not on any encounter: only a patient-scoped search finds it."""
    return {
        "resourceType": "Condition",
        "id": "effusion",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "J91.8"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def coding_of(response) -> dict:
    (card,) = response.get_json()["cards"]
    return card["extension"]["cpt-coding.suggestion"]


@pytest.mark.integration
def test_without_encounter_id_the_patients_diagnoses_are_read_and_used(client, fhir):
    """The sandbox's order-sign for an imaging-guided thoracentesis, with the diagnosis only on the FHIR server
    (the order's own reason, SNOMED CT 279039007, does not support it)."""
    order = pama_order("smart-1288992", cpt="32555", reason="279039007")
    call = sandbox_call("order-sign", "smart-1288992", fhir.base_url, **pama_context(order))

    fhir.load([PATIENT])
    bare = client.post(ORDER_SIGN, json=call)
    fhir.load([pleural_effusion("smart-1288992")])
    with_diagnosis = client.post(ORDER_SIGN, json={**call, "hookInstance": "second-" + call["hookInstance"]})

    assert bare.status_code == with_diagnosis.status_code == 200, with_diagnosis.get_data(as_text=True)
    assert [line["code"] for line in coding_of(bare)["lines"]] == ["32555"]
    assert "indication" in coding_of(bare)["documentationGaps"]
    assert [line["code"] for line in coding_of(with_diagnosis)["lines"]] == ["32555"]
    assert "indication" not in coding_of(with_diagnosis).get("documentationGaps", [])


def test_order_select_previews_the_order_sign_coding_with_info_cards(client):
    """What the PAMA screen does on every change: order-select, same coding as order-sign, info level only."""
    order = pama_order("p1", cpt="32554", reason="60046008")
    guidance = {**pama_order("p1", cpt="76942", reason="60046008"), "id": "guidance-request-id"}
    context = {"selections": [f"ServiceRequest/{order['id']}"], "draftOrders": draft_bundle(order, guidance)}
    prefetch = {"patient": None, "encounter": None, "conditions": None, "coverage": None}
    # Both services get the screen's hook in the body: each answers with its own behaviour.
    call = {**sandbox_call(PAMA_SCREEN_HOOK, "p1", "http://127.0.0.1:9/fhir", **context), "prefetch": prefetch}
    del call["fhirServer"]

    signed = client.post(ORDER_SIGN, json=call).get_json()["cards"]
    previewed = client.post(ORDER_SELECT, json={**call, "hookInstance": str(uuid.uuid4())}).get_json()["cards"]

    assert previewed and {card["indicator"] for card in previewed} == {"info"}
    assert [card["extension"] for card in previewed] == [card["extension"] for card in signed]
    assert "warning" in {card["indicator"] for card in signed}  # 32554 ordered with guidance: worth a warning


PAMA_RATING = "http://fhir.org/argonaut/Extension/pama-rating"


def pama_ratings(resource: dict) -> list[str]:
    """What the sandbox's imaging screen reads off an update suggestion: the codes of the pama-rating extensions."""
    return [
        coding["code"]
        for extension in resource.get("extension", [])
        if extension.get("url") == PAMA_RATING
        for coding in extension["valueCodeableConcept"]["coding"]
    ]


@pytest.mark.parametrize("path", [ORDER_SELECT, ORDER_SIGN])
def test_imaging_screen_suggestions_carry_the_pama_rating_no_criteria_apply(client, path):
    """The imaging screen destructures the first pama-rating of every update suggestion it is clicked on; a
    procedure order is outside imaging appropriate-use criteria, so the rating is no-criteria-apply."""
    order = pama_order("p1", cpt="32554", reason="60046008")  # unguided code, guidance in the order text
    order["code"]["text"] = "Thoracentesis, ultrasound guided"
    order["extension"] = [{"url": "http://example.org/local-order-flag", "valueBoolean": True}]
    call = {**sandbox_call(PAMA_SCREEN_HOOK, "p1", "http://127.0.0.1:9/fhir", **pama_context(order)),
            "prefetch": {"patient": None, "encounter": None, "conditions": None, "coverage": None}}

    response = client.post(path, json=call)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response_problems(response.get_json()) == []
    updates = [
        action for card in response.get_json()["cards"] for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"] if action["type"] == "update"
    ]
    assert updates, "expected the order's code to be corrected"
    for action in updates:
        assert pama_ratings(action["resource"]) == ["no-criteria-apply"]
        # The order's own extensions are kept beside it.
        assert {"url": "http://example.org/local-order-flag", "valueBoolean": True} in action["resource"]["extension"]


def test_a_rating_the_resource_already_carries_is_kept():
    from cds_service.rendering.cards import PAMA_RATING_URL, with_pama_rating

    own = {"url": PAMA_RATING_URL, "valueCodeableConcept": {"coding": [{"code": "appropriate"}]}}
    assert with_pama_rating({"resourceType": "ServiceRequest", "extension": [own]})["extension"] == [own]
    added = with_pama_rating({"resourceType": "Procedure"})["extension"]
    assert pama_ratings({"extension": added}) == ["no-criteria-apply"]


def test_a_prefetch_filled_from_a_template_the_context_cannot_fill_is_read_again(client, httpserver: HTTPServer):
    """The sandbox fills only patientId and userId: it searches `Condition?patient=..&encounter={{context.
    encounterId}}` as it is, gets an empty Bundle and sends it. That answer is not what the template asks for,
    so the service reads the patient-scoped fallback itself and finds the diagnosis."""
    httpserver.expect_request("/fhir/Condition").respond_with_json(searchset(pleural_effusion("smart-1288992")))
    httpserver.expect_request("/fhir/Coverage").respond_with_json(searchset())
    order = pama_order("smart-1288992", cpt="32555", reason="60046008")
    call = sandbox_call(PAMA_SCREEN_HOOK, "smart-1288992", httpserver.url_for("/fhir"), **pama_context(order))
    call["prefetch"] = {"patient": PATIENT, "conditions": searchset()}  # what the sandbox's own fetch gave it

    response = client.post(ORDER_SIGN, json=call)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert "indication" not in coding_of(response).get("documentationGaps", [])
    seen = [(request.path, request.args.to_dict()) for request, _ in httpserver.log]
    assert ("/fhir/Condition", {"patient": "smart-1288992"}) in seen
    assert not [path for path, _ in seen if path.startswith("/fhir/Patient")]  # a filled template is kept
