"""`/metrics` and `/healthz/ready` in process: what is counted, with which labels, and who may read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.config import PRODUCTION, Settings
from cds_service.store import StoreUnavailable
from tests.calls import order_sign_call
from tests.trust.kit import write_issuers

from .metrics_text import samples, value

ROOT = Path(__file__).resolve().parents[2]
ORDER_SIGN = "procedure-coding-order-sign"
ROUTE = "/cds-services/<service_id>"


def build(tmp_path: Path, **overrides):
    app = create_app(Settings(sqlite_path=tmp_path / "cds.sqlite3", playground_enabled=False, **overrides))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(tmp_path):
    app = build(tmp_path)
    yield app
    app.extensions["cds_audit"].close()
    app.extensions["cds_store"].close()


def scrape(client, **headers) -> str:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def recorded_call() -> dict:
    return json.loads((ROOT / "fhir_fixtures" / "requests" / "thoracentesis-with-guidance-order.order-sign.json")
                      .read_text(encoding="utf-8"))


def test_a_hook_call_is_counted_by_route_service_status_rule_and_gap(app):
    client = app.test_client()
    before = scrape(client)
    call = recorded_call()
    answer = client.post(f"/cds-services/{ORDER_SIGN}", json=call)
    assert answer.status_code == 200
    assert client.post("/cds-services/no-such-service", json=call).status_code == 404
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("cds_http_requests_total", route=ROUTE, service=ORDER_SIGN, status="200") == 1
    assert grew("cds_http_request_duration_seconds_count", route=ROUTE, service=ORDER_SIGN, status="200") == 1
    # An unknown service id is not a label value (bounded cardinality): it counts under "".
    assert grew("cds_http_requests_total", route=ROUTE, service="", status="404") == 1
    cards = [c for c in answer.get_json()["cards"] if "cpt-coding.suggestion" in c.get("extension", {})]
    assert cards
    for card in cards:
        suggestion = card["extension"]["cpt-coding.suggestion"]
        assert grew("cds_cards_total", service=ORDER_SIGN, rule=suggestion["rule"]) >= 1
        for gap in suggestion.get("documentationGaps", []):
            assert grew("cds_documentation_gaps_total", gap=gap) >= 1
    lines = sum(len(c["extension"]["cpt-coding.suggestion"].get("lines", [])) for c in cards)
    assert grew("cds_card_lines_total") == lines
    # Nothing identifying leaves in a label.
    label_values = {v for _, labels, _ in samples(after) for v in labels.values()}
    assert call["hookInstance"] not in label_values and call["context"]["patientId"] not in label_values
    assert not any("no-such-service" in v for v in label_values)


def test_audit_writer_and_feedback_are_counted(app):
    client = app.test_client()
    before = scrape(client)
    assert client.post(f"/cds-services/{ORDER_SIGN}", json=order_sign_call()).status_code == 200
    assert app.extensions["cds_audit"].flush()
    feedback = {"card": "c-1", "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}],
                "outcomeTimestamp": "2025-03-01T10:00:00Z"}
    assert client.post(f"/cds-services/{ORDER_SIGN}/feedback", json={"feedback": [feedback]}).status_code == 200
    after = scrape(client)
    assert value(after, "cds_audit_records_total", result="written") - value(
        before, "cds_audit_records_total", result="written") == 1
    assert value(after, "cds_audit_write_seconds_count") > value(before, "cds_audit_write_seconds_count")
    assert value(after, "cds_audit_queue_depth") == 0
    assert value(after, "cds_feedback_items_total", outcome="accepted", result="committed") - value(
        before, "cds_feedback_items_total", outcome="accepted", result="committed") == 1


def test_fhir_fetches_are_counted_by_outcome(app, httpserver):
    httpserver.expect_request("/fhir/Patient/p1").respond_with_json({"resourceType": "Patient", "id": "p1"})
    client = app.test_client()
    before = scrape(client)
    call = order_sign_call(fhirServer=httpserver.url_for("/fhir"), prefetch={})
    assert client.post(f"/cds-services/{ORDER_SIGN}", json=call).status_code == 200
    after = scrape(client)
    assert value(after, "cds_fhir_fetches_total", outcome="ok") - value(before, "cds_fhir_fetches_total",
                                                                        outcome="ok") >= 1
    # The Medplum-less test server answers 500 to the searches it was not told about.
    assert value(after, "cds_fhir_fetches_total", outcome="http_error") > value(
        before, "cds_fhir_fetches_total", outcome="http_error")
    fetches = "cds_fhir_fetch_duration_seconds_count"
    assert value(after, fetches) > value(before, fetches)


def test_metrics_token_is_required_when_configured(tmp_path):
    app = build(tmp_path, metrics_token="s3cret-scrape")
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.get_json(force=True)["resourceType"] == "OperationOutcome"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "cds_http_requests_total" in scrape(client, Authorization="Bearer s3cret-scrape")


def test_production_serves_metrics_only_with_a_token_and_never_asks_for_a_jwt(tmp_path, es384_key):
    issuers = write_issuers(tmp_path / "issuers.json", [{"iss": "https://ehr.test.example",
                                                        "jwks": {"keys": [es384_key.public_jwk]}}])
    common = {"profile": PRODUCTION, "trusted_issuers_file": issuers}
    closed = build(tmp_path, **common).test_client()
    assert closed.get("/metrics").status_code == 404
    with_token = build(tmp_path, metrics_token="t0ken", **common).test_client()
    # JWT failures are counted by reason; /metrics itself needs no JWT, only its own token.
    before = scrape(with_token, Authorization="Bearer t0ken")
    assert with_token.post(f"/cds-services/{ORDER_SIGN}", json=order_sign_call(),
                           headers={"Authorization": "Bearer not.a.jwt"}).status_code == 401
    assert with_token.post(f"/cds-services/{ORDER_SIGN}", json=order_sign_call()).status_code == 401
    after = scrape(with_token, Authorization="Bearer t0ken")
    assert value(after, "cds_jwt_failures_total", reason="malformed token") - value(
        before, "cds_jwt_failures_total", reason="malformed token") == 1
    assert value(after, "cds_jwt_failures_total", reason="no Authorization header") - value(
        before, "cds_jwt_failures_total", reason="no Authorization header") == 1
    # With a separate metrics port the app's port has no /metrics at all.
    assert build(tmp_path, metrics_port=9999, metrics_token="t0ken", **common).test_client().get(
        "/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 404


def test_readiness_checks_the_store_and_the_rule_packs(app, monkeypatch):
    client = app.test_client()
    ready = client.get("/healthz/ready")
    assert ready.status_code == 200
    assert ready.get_json()["rulePacks"] >= 2 and ready.get_json()["store"] == "ok"

    def down() -> None:
        raise StoreUnavailable("sqlite: OperationalError")

    monkeypatch.setattr(app.extensions["cds_store"], "ping", down)
    answer = client.get("/healthz/ready")
    assert answer.status_code == 503
    body = answer.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome" and "store" in body["issue"][0]["diagnostics"]
    assert client.get("/healthz").status_code == 200  # liveness does not depend on the database
