"""Prefetch semantics: provided, null, OperationOutcome, absent; fetch with token, concurrency and paging."""

from __future__ import annotations

import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cds_service.fhir.access import Outcome, fill_template
from cds_service.services import SERVICES_BY_ID
from tests import calls

DISCHARGE = SERVICES_BY_ID["procedure-coding-encounter-discharge"]
URL = "/cds-services/procedure-coding-encounter-discharge"


def bundle(*resources, next_url: str | None = None) -> dict:
    body = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        body["link"] = [{"relation": "next", "url": next_url}]
    return body


def discharge_call(fhir_server: str | None = None, token: str | None = "secret-token", **prefetch) -> dict:
    return calls.discharge_call(fhir_server, token, user_id="Practitioner/u1", prefetch=prefetch or None)


def resolve(app, call):
    pipeline = app.extensions["cds_pipeline"]
    from cds_service.pipeline import context_resources

    return pipeline.access.resolve(DISCHARGE, call, context_resources(DISCHARGE, call["context"]))


FULL = {
    "patient": {"resourceType": "Patient", "id": "p1"},
    "encounter": {"resourceType": "Encounter", "id": "e1", "status": "finished"},
    "conditions": bundle(),
    "procedures": bundle({"resourceType": "Procedure", "id": "pr1", "status": "completed"}),
    "imagingStudies": bundle(),
    "observations": None,
    "documents": None,
    "coverage": None,
    "medications": None,
}


def test_template_tokens_are_filled_from_context():
    filled = fill_template("Procedure?patient={{context.patientId}}", {"patientId": "Patient/p1"})
    assert filled == "Procedure?patient=p1"
    assert fill_template("Encounter/{{context.encounterId}}", {"patientId": "p1"}) is None


def test_complete_prefetch_needs_no_server(app):
    data = resolve(app, discharge_call(**FULL))
    assert data.results["procedures"].outcome is Outcome.PROVIDED
    assert data.results["observations"].outcome is Outcome.NULL
    assert [p["id"] for p in data.of_type("Procedure")] == ["pr1"]
    assert data.unread == []


def test_null_is_never_refetched(app, httpserver):
    data = resolve(app, discharge_call(httpserver.url_for("/fhir"), **FULL))
    assert data.results["documents"].outcome is Outcome.NULL
    assert httpserver.log == []


def test_absent_and_failed_keys_are_fetched_with_the_token(app, httpserver):
    prefetch = dict(FULL)
    del prefetch["procedures"]
    prefetch["conditions"] = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    httpserver.expect_request("/fhir/Procedure", query_string="patient=p1&encounter=e1").respond_with_json(
        bundle({"resourceType": "Procedure", "id": "fetched", "status": "completed"})
    )
    httpserver.expect_request("/fhir/Condition").respond_with_json(
        bundle({"resourceType": "Condition", "id": "c1"})
    )
    data = resolve(app, discharge_call(httpserver.url_for("/fhir"), **prefetch))
    assert data.results["procedures"].outcome is Outcome.FETCHED
    assert data.results["conditions"].outcome is Outcome.FETCHED
    assert {p["id"] for p in data.of_type("Procedure")} == {"fetched"}
    assert {c["id"] for c in data.of_type("Condition")} == {"c1"}
    for request, _ in httpserver.log:
        assert request.headers["Authorization"] == "Bearer secret-token"


def test_next_links_are_followed_up_to_the_bound(app, httpserver):
    prefetch = dict(FULL)
    del prefetch["procedures"]
    page2 = httpserver.url_for("/fhir/page2")
    httpserver.expect_request("/fhir/Procedure").respond_with_json(
        bundle({"resourceType": "Procedure", "id": "a"}, next_url=page2)
    )
    httpserver.expect_request("/fhir/page2").respond_with_json(bundle({"resourceType": "Procedure", "id": "b"}))
    data = resolve(app, discharge_call(httpserver.url_for("/fhir"), **prefetch))
    assert {p["id"] for p in data.of_type("Procedure")} == {"a", "b"}


def test_next_link_to_another_host_is_not_followed(app, httpserver):
    prefetch = dict(FULL)
    del prefetch["procedures"]
    httpserver.expect_request("/fhir/Procedure").respond_with_json(
        bundle({"resourceType": "Procedure", "id": "a"}, next_url="http://127.0.0.2:9/steal")
    )
    response = app.test_client().post(URL, json=discharge_call(httpserver.url_for("/fhir"), **prefetch))
    assert response.status_code == 412
    assert "leaves the FHIR server" in response.get_json()["issue"][0]["diagnostics"]


def test_independent_queries_run_concurrently(app):
    httpserver = HTTPServer(host="127.0.0.1", threaded=True)
    httpserver.start()
    try:
        _run_concurrency_check(app, httpserver)
    finally:
        httpserver.clear()
        httpserver.stop()


def _run_concurrency_check(app, httpserver):
    active = 0
    peak = 0
    lock = threading.Lock()

    def slow(_request):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.2)
        with lock:
            active -= 1
        return Response(
            '{"resourceType": "Bundle", "type": "searchset"}', content_type="application/fhir+json"
        )

    httpserver.expect_request("/fhir/Procedure").respond_with_handler(slow)
    httpserver.expect_request("/fhir/ImagingStudy").respond_with_handler(slow)
    httpserver.expect_request("/fhir/Condition").respond_with_handler(slow)
    prefetch = {k: v for k, v in FULL.items() if k not in ("procedures", "imagingStudies", "conditions")}
    started = time.monotonic()
    data = resolve(app, discharge_call(httpserver.url_for("/fhir"), **prefetch))
    elapsed = time.monotonic() - started
    assert data.unread == []
    assert peak >= 2
    assert elapsed < 0.55  # three 0.2 s queries, not run one after another


def test_required_key_unreadable_is_412_and_optional_is_reported(app, httpserver):
    prefetch = dict(FULL)
    del prefetch["observations"]
    httpserver.expect_request("/fhir/Observation").respond_with_data("boom", status=500)
    data = resolve(app, discharge_call(httpserver.url_for("/fhir"), **prefetch))
    assert [r.key for r in data.unread] == ["observations"]
    assert "500" in data.unread[0].problem

    prefetch = dict(FULL)
    del prefetch["imagingStudies"]
    httpserver.expect_request("/fhir/ImagingStudy").respond_with_data("boom", status=503)
    response = app.test_client().post(URL, json=discharge_call(httpserver.url_for("/fhir"), **prefetch))
    assert response.status_code == 412
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["expression"] == ["prefetch.imagingStudies"]


@pytest.mark.parametrize("bad", [{"resourceType": "Procedure", "id": "x", "performedDateTime": 7}, {"id": "y"}])
def test_invalid_resource_is_skipped_and_named(app, bad):
    prefetch = dict(FULL)
    prefetch["procedures"] = bundle({"resourceType": "Procedure", "id": "ok", "status": "completed"}, bad)
    data = resolve(app, discharge_call(**prefetch))
    assert [p["id"] for p in data.of_type("Procedure")] == ["ok"]
    assert len(data.skipped) == 1
