"""CDS Hooks 2.0 protocol rules: discovery, envelope validation, errors, CORS."""

from __future__ import annotations

import logging
import uuid

import pytest

from cds_service.protocol.response_check import response_problems
from cds_service.services import NOTE_SIGN_HOOK
from tests.calls import order_sign_call

ORDER_SIGN = "/cds-services/procedure-coding-order-sign"




def assert_outcome(response, status: int, mentions: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome"
    if mentions:
        assert mentions in body["issue"][0]["diagnostics"]
    return body


def test_discovery_lists_one_service_per_hook(client):
    services = client.get("/cds-services").get_json()["services"]
    hooks = {s["hook"] for s in services}
    assert {"order-sign", "order-select", "encounter-discharge", NOTE_SIGN_HOOK} <= hooks
    for service in services:
        assert service["description"] and service["title"] and service["id"]
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    discharge = next(s for s in services if s["hook"] == "encounter-discharge")
    assert set(discharge["prefetch"]) == {
        "patient", "encounter", "conditions", "procedures", "imagingStudies", "observations", "documents",
        "coverage", "medications",
    }


def test_valid_call_answers_spec_valid_cards(client):
    response = client.post(ORDER_SIGN, json=order_sign_call())
    assert response.status_code == 200
    assert response_problems(response.get_json()) == []


def test_unknown_service_is_404_outcome(client):
    assert_outcome(client.post("/cds-services/nope", json=order_sign_call()), 404, "nope")


def test_wrong_content_type_is_415(client):
    assert_outcome(client.post(ORDER_SIGN, data="{}", content_type="text/plain"), 415)


def test_malformed_json_is_400(client):
    assert_outcome(client.post(ORDER_SIGN, data="{not json", content_type="application/json"), 400, "JSON")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("hookInstance"), "hookInstance"),
        (lambda c: c["context"].pop("patientId"), "context.patientId"),
        (lambda c: c["context"].pop("draftOrders"), "context.draftOrders"),
        (lambda c: c.update(prefetch={"patient": 5}), "prefetch.patient"),
        (
            lambda c: c.update(
                fhirAuthorization={
                    "access_token": "t", "token_type": "Bearer", "expires_in": 60, "scope": "s", "subject": "x",
                }
            ),
            "fhirServer",
        ),
    ],
)
def test_schema_violation_names_the_field(client, mutate, field):
    call = order_sign_call()
    mutate(call)
    body = assert_outcome(client.post(ORDER_SIGN, json=call), 400)
    assert field in body["issue"][0]["diagnostics"]
    assert body["issue"][0]["expression"] == [field]


@pytest.mark.parametrize("hook", ["encounter-discharge", "patient-view", "order-dispatch", "order-sign2"])
def test_hook_mismatch_is_400(client, hook):
    body = assert_outcome(client.post(ORDER_SIGN, json=order_sign_call(hook=hook)), 400, "answers hook")
    assert body["issue"][0]["expression"] == ["hook"]


def test_sibling_hook_with_the_same_context_is_answered_and_logged_once(client, caplog):
    """order-select and order-sign share their context shape: each service answers the other's hook with its own
    behaviour (what the CDS Hooks sandbox's imaging screen sends), logged once at info level."""
    from cds_service.protocol import routes

    routes._lenient_logged.clear()
    select_call = order_sign_call(hook="order-select")
    select_call["context"]["selections"] = []
    with caplog.at_level(logging.INFO, logger="cds_service"):
        for _ in range(3):
            assert client.post(ORDER_SIGN, json={**select_call, "hookInstance": str(uuid.uuid4())}).status_code == 200
        sign_call = order_sign_call()
        sign_call["context"]["selections"] = []
        answered = client.post("/cds-services/procedure-coding-order-select", json=sign_call)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    notes = [r for r in caplog.records if "same context shape" in r.getMessage()]
    assert [(r.levelno, r.service) for r in notes] == [
        (logging.INFO, "procedure-coding-order-sign"), (logging.INFO, "procedure-coding-order-select"),
    ]
    # order-select's own context rules still apply when it is called as order-sign: selections are required.
    no_selections = order_sign_call()
    body = assert_outcome(client.post("/cds-services/procedure-coding-order-select", json=no_selections), 400)
    assert body["issue"][0]["expression"] == ["context.selections"]


def test_undefined_context_fields_are_ignored(client):
    call = order_sign_call()
    call["context"]["selections"] = ["ServiceRequest/x"]
    assert client.post(ORDER_SIGN, json=call).status_code == 200


def test_missing_required_data_without_fhir_server_is_412(client):
    call = {
        "hook": "encounter-discharge",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1"},
    }
    assert_outcome(client.post("/cds-services/procedure-coding-encounter-discharge", json=call), 412, "procedures")


@pytest.mark.parametrize("path", ["/cds-services", ORDER_SIGN, ORDER_SIGN + "/feedback", "/healthz"])
def test_cors_preflight_on_every_endpoint(client, path):
    response = client.options(
        path,
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_errors_are_never_html(client):
    response = client.get("/no/such/page")
    assert_outcome(response, 404)
    response = client.put("/cds-services")
    assert_outcome(response, 405)


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_private_network_preflight_is_allowed(client):
    response = client.options(
        "/cds-services",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"


def test_unexpected_exception_is_a_500_outcome_logged_without_phi(app, client, caplog):
    def explode(service, call, data):
        raise RuntimeError("Jane Doe's note text")  # a message that quotes request data

    app.extensions["cds_pipeline"].coder.cards = explode
    call = order_sign_call()
    with caplog.at_level("ERROR", logger="cds_service"):
        response = client.post(ORDER_SIGN, json=call)
    body = assert_outcome(response, 500)
    assert "Jane Doe" not in response.get_data(as_text=True)
    assert body["issue"][0]["severity"] == "fatal"
    record = next(r for r in caplog.records if r.getMessage() == "unexpected error")
    assert record.hookInstance == call["hookInstance"]
    assert record.error == "RuntimeError"
    assert "Jane Doe" not in record.getMessage()
