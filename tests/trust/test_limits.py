"""Limits on hostile input: body size, Bundle entries, nesting, FHIR answer size, pages and time.
Every one ends in a 4xx OperationOutcome (or a named unread key), never a 500."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cds_service.config import DEVELOPMENT

from .kit import DISCHARGE, ORDER_SIGN, assert_outcome, discharge_call, order_sign_call

MAX_BODY = 20_000


@pytest.fixture
def app(make_app):
    return make_app(
        None, profile=DEVELOPMENT, max_body_bytes=MAX_BODY, max_bundle_entries=5,
        fhir_max_response_bytes=4096, fhir_max_pages=2, fhir_request_timeout=0.3, fhir_time_budget=1.0,
    )


@pytest.fixture
def client(app):
    return app.test_client()


def big_call() -> bytes:
    call = order_sign_call()
    call["context"]["padding"] = "x" * (MAX_BODY * 2)
    return json.dumps(call).encode()


def test_declared_body_over_the_cap_is_413(client):
    assert_outcome(client.post(ORDER_SIGN, data=big_call(), content_type="application/json"), 413)


def test_chunked_body_over_the_cap_is_413(client):
    """No Content-Length (chunked, as gunicorn passes it on): the cap still holds while reading."""
    response = client.post(
        ORDER_SIGN, input_stream=io.BytesIO(big_call()), content_type="application/json",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    )
    assert_outcome(response, 413)


def test_chunked_body_under_the_cap_is_read_whole(client):
    body = json.dumps(order_sign_call()).encode()
    response = client.post(
        ORDER_SIGN, input_stream=io.BytesIO(body), content_type="application/json",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_werkzeug_body_cap_is_an_outcome_too(make_app):
    """Any code reading the body through Flask (get_data, get_json, form) hits MAX_CONTENT_LENGTH."""
    app = make_app(None, profile=DEVELOPMENT, max_body_bytes=MAX_BODY)

    @app.post("/test-only/echo-length")
    def echo_length():
        from flask import request

        return {"length": len(request.get_data())}

    client = app.test_client()
    assert client.post("/test-only/echo-length", data=b"x" * 100).get_json() == {"length": 100}
    assert_outcome(client.post("/test-only/echo-length", data=b"x" * (MAX_BODY + 2)), 413)


def _bundle(count: int) -> dict:
    return {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"resource": {"resourceType": "ServiceRequest", "id": f"sr{i}", "status": "draft",
                                "intent": "order", "subject": {"reference": "Patient/p1"}}} for i in range(count)],
    }


def test_draft_orders_over_the_entry_cap_is_413_naming_the_field(client):
    call = order_sign_call()
    call["context"]["draftOrders"] = _bundle(6)
    body = assert_outcome(client.post(ORDER_SIGN, json=call), 413, "context.draftOrders")
    assert body["issue"][0]["expression"] == ["context.draftOrders.entry"]


def test_prefetch_bundle_over_the_entry_cap_is_413_naming_the_key(client):
    call = discharge_call(prefetch={"procedures": _bundle(6)})
    body = assert_outcome(client.post(DISCHARGE, json=call), 413, "prefetch.procedures")
    assert body["issue"][0]["expression"] == ["prefetch.procedures.entry"]


def test_bundles_at_the_cap_pass(client):
    call = order_sign_call()
    call["context"]["draftOrders"] = _bundle(5)
    assert client.post(ORDER_SIGN, json=call).status_code == 200


def test_deep_nesting_is_400(client):
    call = order_sign_call()
    deep: dict = {}
    cursor = deep
    for _ in range(200):
        cursor["a"] = {}
        cursor = cursor["a"]
    call["context"]["extra"] = deep
    assert_outcome(client.post(ORDER_SIGN, json=call), 400, "nested")


def _fhir(httpserver: HTTPServer, handler) -> str:
    httpserver.expect_request(re.compile("/fhir/.*")).respond_with_handler(handler)
    return httpserver.url_for("/fhir")


def test_fhir_answer_over_the_size_cap_is_an_unread_key_not_a_500(client, httpserver):
    huge = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"resourceType": "Procedure",
                                                                                  "id": "x" * 8000}}]}
    server = _fhir(httpserver, lambda r: Response(json.dumps(huge), content_type="application/fhir+json"))
    assert_outcome(client.post(DISCHARGE, json=discharge_call(server)), 412, "larger than the configured limit")


def test_endless_paging_stops_at_the_page_cap(client, httpserver):
    counter = iter(range(10_000))

    def page(request):
        body = {"resourceType": "Bundle", "type": "searchset"}
        if request.path == "/fhir/Procedure":  # only this search pages on and on
            body["link"] = [{"relation": "next", "url": httpserver.url_for(f"/fhir/Procedure?page={next(counter)}")}]
        return Response(json.dumps(body), content_type="application/fhir+json")

    server = _fhir(httpserver, page)
    assert_outcome(client.post(DISCHARGE, json=discharge_call(server)), 412, "more than 2 pages")
    procedure_pages = [r for r, _ in httpserver.log if r.path == "/fhir/Procedure"]
    assert len(procedure_pages) == 2


def test_slow_fhir_server_is_cut_off_by_the_timeout(client, httpserver):
    def slow(request):
        time.sleep(0.8)
        return Response("{}", content_type="application/fhir+json")

    server = _fhir(httpserver, slow)
    started = time.monotonic()
    assert_outcome(client.post(DISCHARGE, json=discharge_call(server)), 412, "in time")
    assert time.monotonic() - started < 1.9  # budget 1.0 s plus the pool's grace, not 8 sequential sleeps


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b"<html>login</html>", json.dumps({"a": [[[[[[]]]]]] * 3}).encode()],
)
def test_malformed_fhir_answers_are_unread_keys_not_500s(client, httpserver, body):
    server = _fhir(httpserver, lambda r: Response(body, content_type="application/fhir+json"))
    response = client.post(DISCHARGE, json=discharge_call(server))
    assert response.status_code in (200, 412), response.get_data(as_text=True)
