"""The sandbox's JWT and its feedback: accepted in development, its issuer never trusted in production.

The sandbox signs with a private key published in its repository. These tests do not carry that key: they
sign tokens of exactly the sandbox's form (ES384, its `kid` and `jku`, `iss`, `aud` = the URL called, no
`tenant`) with a key generated here, installed as the sandbox issuer's inline key for the test.
"""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from cds_service.app import create_app
from cds_service.auth import sandbox
from cds_service.auth.issuers import TrustConfigError
from cds_service.config import PRODUCTION, Settings

from .conftest import ORDER_SIGN, SANDBOX_ORIGIN, draft_bundle, pama_order, sandbox_call

BASE = "http://localhost"  # the URL Flask's test client calls
FEEDBACK = ORDER_SIGN + "/feedback"


@pytest.fixture
def sandbox_key(monkeypatch) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP384R1())
    public = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": sandbox.SANDBOX_KID, "use": "sig"}
    monkeypatch.setattr(sandbox, "SANDBOX_JWKS", {"keys": [{**public, "alg": "ES384"}]})
    return key


def sandbox_jwt(key, url: str) -> str:
    """A token as the sandbox's jwt-generator builds it for a call to `url`."""
    now = int(time.time())
    claims = {"iss": sandbox.SANDBOX_ISS, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    headers = {"typ": "JWT", "kid": sandbox.SANDBOX_KID, "jku": sandbox.SANDBOX_JKU}
    return jwt.encode(claims, key, algorithm="ES384", headers=headers)


def sandbox_headers(key, path: str) -> dict:
    return {"Authorization": f"Bearer {sandbox_jwt(key, BASE + path)}", "Origin": SANDBOX_ORIGIN}


@pytest.fixture
def strict_app(settings, sandbox_key):
    """Development with authentication required, so a token the service does not accept cannot slip through."""
    app = create_app(settings.with_overrides(auth_required=True))
    app.config["TESTING"] = True
    return app


def thoracentesis_call() -> dict:
    """A thoracentesis ordered as 32554 plus a separate ultrasound guidance order: a card with a suggestion."""
    order = pama_order("p1", cpt="32554", reason="60046008")
    guidance = {**pama_order("p1", cpt="76942", reason="60046008"), "id": "guidance-request-id"}
    call = sandbox_call("order-sign", "p1", "http://127.0.0.1:9/fhir", draftOrders=draft_bundle(order, guidance))
    del call["fhirServer"]
    call["prefetch"] = {"patient": None, "encounter": None, "conditions": None, "coverage": None}
    return call


def test_sandbox_jwt_is_accepted_for_discovery_calls_and_feedback(strict_app, sandbox_key):
    client = strict_app.test_client()
    assert client.get("/cds-services").status_code == 401  # really required: no token, no answer

    discovery = client.get("/cds-services", headers=sandbox_headers(sandbox_key, "/cds-services"))
    assert discovery.status_code == 200, discovery.get_data(as_text=True)

    answer = client.post(ORDER_SIGN, json=thoracentesis_call(), headers=sandbox_headers(sandbox_key, ORDER_SIGN))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    card = answer.get_json()["cards"][0]

    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden",
                              "overrideReason": {"reason": {"code": card["overrideReasons"][0]["code"],
                                                            "system": card["overrideReasons"][0]["system"]}},
                              "outcomeTimestamp": "2025-01-02T03:04:05.678Z"}]}
    stored = client.post(FEEDBACK, json=feedback, headers=sandbox_headers(sandbox_key, FEEDBACK))
    assert stored.status_code == 200, stored.get_data(as_text=True)


def test_sandbox_jwt_must_name_the_url_it_calls(strict_app, sandbox_key):
    client = strict_app.test_client()
    wrong = {"Authorization": f"Bearer {sandbox_jwt(sandbox_key, BASE + '/cds-services')}"}
    assert client.post(ORDER_SIGN, json=thoracentesis_call(), headers=wrong).status_code == 401


def test_sandbox_issuer_can_be_turned_off_in_development(settings, sandbox_key):
    app = create_app(settings.with_overrides(auth_required=True, trust_sandbox_issuer=False))
    response = app.test_client().get("/cds-services", headers=sandbox_headers(sandbox_key, "/cds-services"))
    assert response.status_code == 401


def test_production_never_trusts_the_sandbox(tmp_path):
    with pytest.raises(ValueError, match="sandbox"):
        Settings.from_env({"CDS_PROFILE": "production", "CDS_TRUST_SANDBOX": "1"})
    # Not even when its issuer is written into the trusted-issuers file.
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": [{"iss": sandbox.SANDBOX_ISS, "jwks": sandbox.SANDBOX_JWKS}]}))
    with pytest.raises(TrustConfigError, match="sandbox"):
        create_app(Settings(profile=PRODUCTION, sqlite_path=tmp_path / "cds.sqlite3", trusted_issuers_file=issuers))


def test_feedback_in_the_sandboxs_form_is_stored(app, client):
    """Accepted: card + suggestion ids. Overridden: the reason's code and system only, no display, no comment."""
    card = client.post(ORDER_SIGN, json=thoracentesis_call()).get_json()["cards"][0]
    reason = card["overrideReasons"][0]
    preflight = client.options(
        FEEDBACK,
        headers={"Origin": SANDBOX_ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"},
    )
    assert preflight.status_code in (200, 204)
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()

    accepted = {"card": card["uuid"], "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2025-01-02T03:04:05.678Z"}
    overridden = {"card": card["uuid"], "outcome": "overridden",
                  "overrideReason": {"reason": {"code": reason["code"], "system": reason["system"]}},
                  "outcomeTimestamp": "2025-01-02T03:05:06.789Z"}
    for item in (accepted, overridden):  # the sandbox posts each on its own
        response = client.post(FEEDBACK, json={"feedback": [item]}, headers={"Origin": SANDBOX_ORIGIN})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["Access-Control-Allow-Origin"] in (SANDBOX_ORIGIN, "*")

    log = {item.outcome: item for item in app.extensions["cds_store"].feedback_log() if item.card == card["uuid"]}
    assert log["accepted"].accepted_suggestions == (card["suggestions"][0]["uuid"],)
    assert (log["overridden"].reason_system, log["overridden"].reason_code) == (reason["system"], reason["code"])
    assert log["overridden"].has_comment is False


def test_production_reads_only_the_fhir_servers_listed_for_the_caller(tmp_path, httpserver):
    """The sandbox's way (any fhirServer, no fhirAuthorization) is a development convenience: in production a
    server that is not on the authenticated issuer's list is never contacted."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "ehr-1", "alg": "ES384", "use": "sig"}
    listed = httpserver.url_for("/fhir")
    issuers = tmp_path / "issuers.json"
    issuers.write_text(json.dumps({"issuers": [
        {"iss": "https://ehr.test.example", "jwks": {"keys": [jwk]}, "fhirServer": [listed]},
    ]}))
    app = create_app(Settings(profile=PRODUCTION, sqlite_path=tmp_path / "cds.sqlite3", trusted_issuers_file=issuers))
    client = app.test_client()
    httpserver.expect_request("/fhir/Patient/p1").respond_with_json({"resourceType": "Patient", "id": "p1"})
    httpserver.expect_request("/other/Patient/p1").respond_with_json({"resourceType": "Patient", "id": "p1"})

    def call_with(server: str):
        now = int(time.time())
        token = jwt.encode(
            {"iss": "https://ehr.test.example", "aud": BASE + ORDER_SIGN, "exp": now + 300, "iat": now,
             "jti": str(uuid.uuid4())},
            key, algorithm="ES384", headers={"kid": "ehr-1", "typ": "JWT"},
        )
        call = {**thoracentesis_call(), "fhirServer": server, "prefetch": {"encounter": None, "conditions": None,
                                                                         "coverage": None}}
        return client.post(ORDER_SIGN, json=call, headers={"Authorization": f"Bearer {token}"})

    refused = call_with(httpserver.url_for("/other"))
    assert refused.status_code == 403, refused.get_data(as_text=True)
    assert not [request for request, _ in httpserver.log if request.path.startswith("/other")]

    allowed = call_with(listed)
    assert allowed.status_code == 200, allowed.get_data(as_text=True)
    assert [request.path for request, _ in httpserver.log] == ["/fhir/Patient/p1"]
