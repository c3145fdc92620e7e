"""No SSRF: the service calls only allowlisted FHIR servers (production), only over http(s), never follows a
redirect or a paging link elsewhere, and sends the access token only to the server named in the call.
Loopback servers record every request they get, so "no outbound request" is observed, not assumed."""

from __future__ import annotations

import re

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cds_service.config import DEVELOPMENT

from .kit import BASE, DISCHARGE, ISS, assert_outcome, bearer, discharge_call, mint

ACCESS_TOKEN = "fhir-access-token-for-the-listed-server"


@pytest.fixture
def listed(httpserver: HTTPServer) -> HTTPServer:
    return httpserver


@pytest.fixture
def client(make_app, es384_key, listed):
    entry = {"iss": ISS, "jwks": {"keys": [es384_key.public_jwk]}, "fhirServer": [listed.url_for("/fhir")]}
    return make_app([entry]).test_client()


def call(client, key, body: dict):
    return client.post(DISCHARGE, json=body, headers=bearer(mint(key, aud=BASE + DISCHARGE)))


def test_fhir_server_off_the_list_gets_no_request(client, es384_key, listed, other_host):
    response = call(client, es384_key, discharge_call(other_host.url_for("/fhir"), ACCESS_TOKEN))
    body = assert_outcome(response, 403, "fhirServer")
    assert body["issue"][0]["expression"] == ["fhirServer"]
    assert other_host.log == [] and listed.log == []


@pytest.mark.parametrize(
    "server",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/fhir", "http://user:pw@127.0.0.1/fhir"],
)
def test_non_http_or_credentialed_fhir_server_is_refused(client, es384_key, server, listed):
    assert_outcome(call(client, es384_key, discharge_call(server, ACCESS_TOKEN)), 403)
    assert listed.log == []


@pytest.mark.parametrize("server", ["file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/fhir"])
def test_development_refuses_non_http_schemes_too(make_app, server):
    client = make_app(None, profile=DEVELOPMENT).test_client()
    assert_outcome(client.post(DISCHARGE, json=discharge_call(server)), 400, "http or https")


def test_look_alike_of_a_listed_server_is_refused(client, es384_key, listed):
    base = listed.url_for("/fhir")
    same_host_other_name = base.replace("localhost", "127.0.0.1") if "localhost" in base else base.replace(
        "127.0.0.1", "localhost"
    )
    assert same_host_other_name != base
    for server in (base + "x", same_host_other_name, base + "/../admin", base + "?x=1"):
        assert_outcome(call(client, es384_key, discharge_call(server, ACCESS_TOKEN)), 403)
    assert listed.log == []


def test_redirect_to_another_host_is_not_followed(client, es384_key, listed, other_host):
    listed.expect_request(re.compile("/fhir/.*")).respond_with_response(
        Response(status=302, headers={"Location": other_host.url_for("/fhir/Procedure")})
    )
    response = call(client, es384_key, discharge_call(listed.url_for("/fhir"), ACCESS_TOKEN))
    assert_outcome(response, 412, "redirect")
    assert other_host.log == []
    assert listed.log and all(r.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for r, _ in listed.log)


def test_paging_link_to_another_host_is_not_followed(client, es384_key, listed, other_host):
    page = {
        "resourceType": "Bundle", "type": "searchset", "entry": [],
        "link": [{"relation": "next", "url": other_host.url_for("/fhir/Procedure?page=2")}],
    }
    listed.expect_request(re.compile("/fhir/.*")).respond_with_json(page)
    response = call(client, es384_key, discharge_call(listed.url_for("/fhir"), ACCESS_TOKEN))
    assert_outcome(response, 412, "leaves the FHIR server")
    assert other_host.log == []


def test_listed_server_is_called_with_the_token(client, es384_key, listed):
    listed.expect_request(re.compile("/fhir/.*")).respond_with_json({"resourceType": "Bundle", "type": "searchset"})
    response = call(client, es384_key, discharge_call(listed.url_for("/fhir"), ACCESS_TOKEN))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert listed.log and all(r.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}" for r, _ in listed.log)


def test_development_calls_any_http_server_without_a_token_header(make_app, other_host):
    """The control: the recorder sees requests when the service is allowed to call it (so the zero-hit
    assertions above are meaningful), and with no fhirAuthorization no Authorization header is sent."""
    client = make_app(None, profile=DEVELOPMENT).test_client()
    response = client.post(DISCHARGE, json=discharge_call(other_host.url_for("/fhir")))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert other_host.log and all("Authorization" not in r.headers for r, _ in other_host.log)


def test_development_issuer_with_a_list_is_held_to_it(make_app, es384_key, listed, other_host):
    entry = {"iss": ISS, "jwks": {"keys": [es384_key.public_jwk]}, "fhirServer": [listed.url_for("/fhir")]}
    client = make_app([entry], profile=DEVELOPMENT).test_client()
    assert_outcome(call(client, es384_key, discharge_call(other_host.url_for("/fhir"))), 403)
    assert other_host.log == []
