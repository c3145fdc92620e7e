"""Keys: a sandbox-shaped token (ES384, jku, kid, no tenant), JWK Sets fetched from allowlisted jku URLs,
cached, refreshed on an unknown kid at most once per interval, never fetched for pinned issuers."""

from __future__ import annotations

import json
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from cds_service.auth.issuers import TrustedIssuer
from cds_service.auth.keys import JwksFetchError, KeyStore
from cds_service.auth.sandbox import SANDBOX_ISS, SANDBOX_JKU, SANDBOX_KID
from cds_service.config import DEVELOPMENT

from .kit import BASE, ORDER_SIGN, SigningKey, assert_auth_failed, bearer, mint, order_sign_call

SANDBOX_LIKE_ISS = "https://sandbox-like.test.example"
SANDBOX_LIKE_JKU = "https://sandbox-like.test.example/.well-known/jwks.json"


def sandbox_shaped(key: SigningKey, iss: str, jku: str) -> str:
    """Like the sandbox's: ES384, typ JWT, kid and jku in the header; iss, aud, exp=now+300, iat, jti; no tenant."""
    return mint(key, headers={"jku": jku}, iss=iss)


def test_sandbox_shaped_token_works_when_its_issuer_is_configured(make_app, es384_key, httpserver: HTTPServer):
    entry = {"iss": SANDBOX_LIKE_ISS, "jwks": {"keys": [es384_key.public_jwk]}, "jku": [SANDBOX_LIKE_JKU]}
    client = make_app([entry]).test_client()
    token = sandbox_shaped(es384_key, SANDBOX_LIKE_ISS, SANDBOX_LIKE_JKU)
    assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200
    token = mint(es384_key, aud=BASE + "/cds-services", headers={"jku": SANDBOX_LIKE_JKU}, iss=SANDBOX_LIKE_ISS)
    assert client.get("/cds-services", headers=bearer(token)).status_code == 200


def test_development_checks_sandbox_tokens_against_the_inline_key_without_fetching(make_app, es384_key):
    """A token claiming to be the sandbox's but signed by another key fails on the pinned key: no jku fetch."""
    client = make_app(None, profile=DEVELOPMENT).test_client()
    impostor = SigningKey(es384_key.private, SANDBOX_KID, "ES384")
    token = sandbox_shaped(impostor, SANDBOX_ISS, SANDBOX_JKU)
    assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)))
    assert client.post(ORDER_SIGN, json=order_sign_call()).status_code == 200  # no token: optional here


def test_development_checks_tokens_that_are_sent(make_app, es384_key, issuer_entry):
    client = make_app([issuer_entry], profile=DEVELOPMENT).test_client()
    assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(es384_key))).status_code == 200
    assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(es384_key, aud="x"))))


def test_development_sandbox_token_from_the_pinned_key(make_app, es384_key, monkeypatch):
    """The mechanism the real sandbox uses: pinned key, jku on the list but never fetched, no tenant."""
    from cds_service.auth import guard

    pinned = TrustedIssuer(iss=SANDBOX_ISS, keys=({**es384_key.public_jwk, "kid": SANDBOX_KID},),
                           jku=(SANDBOX_JKU,), fetch_jku=False)
    monkeypatch.setattr(guard, "sandbox_issuer", lambda: pinned)
    client = make_app(None, profile=DEVELOPMENT).test_client()
    token = sandbox_shaped(SigningKey(es384_key.private, SANDBOX_KID, "ES384"), SANDBOX_ISS, SANDBOX_JKU)
    assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200


class TestJkuFetch:
    @pytest.fixture
    def jwks_server(self, httpserver: HTTPServer, es384_key):
        keys = {"keys": [es384_key.public_jwk]}
        httpserver.expect_request("/jwks.json").respond_with_handler(
            lambda request: Response(json.dumps(keys), content_type="application/json")
        )
        httpserver.keys = keys
        return httpserver

    @pytest.fixture
    def client(self, make_app, jwks_server):
        entry = {"iss": SANDBOX_LIKE_ISS, "jku": [jwks_server.url_for("/jwks.json")]}
        return make_app([entry], jwks_refresh_interval=30.0).test_client()

    def _call(self, client, key, **header):
        token = mint(key, headers=header, iss=SANDBOX_LIKE_ISS)
        return client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token))

    def test_listed_jku_is_fetched_once_and_cached(self, client, jwks_server, es384_key):
        jku = jwks_server.url_for("/jwks.json")
        assert self._call(client, es384_key, jku=jku).status_code == 200
        assert self._call(client, es384_key, jku=jku).status_code == 200
        assert self._call(client, es384_key).status_code == 200  # no jku header: the issuer's list is used
        assert len(jwks_server.log) == 1

    def test_unknown_kid_refreshes_at_most_once_per_interval(self, client, jwks_server, es384_key):
        jku = jwks_server.url_for("/jwks.json")
        assert self._call(client, es384_key, jku=jku).status_code == 200
        for kid in ("rotated-1", "rotated-2", "rotated-3"):
            assert_auth_failed(self._call(client, SigningKey(es384_key.private, kid, "ES384"), jku=jku))
        assert len(jwks_server.log) == 1  # the first fetch was just now: refreshes are rate-limited

    def test_redirecting_jku_is_not_followed(self, make_app, httpserver: HTTPServer, es384_key):
        elsewhere = HTTPServer(host="127.0.0.1", port=0)
        elsewhere.start()
        try:
            elsewhere.expect_request("/jwks.json").respond_with_json({"keys": [es384_key.public_jwk]})
            httpserver.expect_request("/moved").respond_with_response(
                Response(status=302, headers={"Location": elsewhere.url_for("/jwks.json")})
            )
            jku = httpserver.url_for("/moved")
            client = make_app([{"iss": SANDBOX_LIKE_ISS, "jku": [jku]}]).test_client()
            assert_auth_failed(self._call(client, es384_key, jku=jku))
            assert elsewhere.log == []
        finally:
            elsewhere.clear()
            elsewhere.stop()


class TestKeyStoreRotation:
    """The cache logic alone, on a fake clock."""

    def make(self, sets: list[list[dict]]):
        calls: list[str] = []
        clock = [1000.0]

        def fetch(url: str) -> list[dict]:
            calls.append(url)
            current = sets[min(len(calls) - 1, len(sets) - 1)]
            if current is None:
                raise JwksFetchError("down")
            return current

        store = KeyStore(fetch, refresh_interval=60.0, max_age=600.0, clock=lambda: clock[0])
        issuer = TrustedIssuer(iss="i", jku=("https://k.example/jwks",))
        return store, issuer, calls, clock

    def test_rotation_after_the_interval(self):
        store, issuer, calls, clock = self.make([[{"kid": "old", "kty": "EC"}], [{"kid": "new", "kty": "EC"}]])
        assert store.key_for(issuer, "old", None)["kid"] == "old"
        assert store.key_for(issuer, "new", None) is None  # unknown, but a refresh happened a moment ago
        clock[0] += 61
        assert store.key_for(issuer, "new", None)["kid"] == "new"
        assert len(calls) == 2

    def test_failed_refresh_keeps_the_old_set(self):
        store, issuer, calls, clock = self.make([[{"kid": "old", "kty": "EC"}], None])
        assert store.key_for(issuer, "old", None)
        clock[0] += 601  # old enough to be refreshed; the refresh fails
        assert store.key_for(issuer, "old", None)["kid"] == "old"
        assert len(calls) == 2

    def test_pinned_issuer_never_fetches(self):
        store, _, calls, _ = self.make([[{"kid": "x", "kty": "EC"}]])
        pinned = TrustedIssuer(iss="i", keys=({"kid": "a", "kty": "EC"},), jku=("https://k.example/jwks",),
                               fetch_jku=False)
        assert store.key_for(pinned, "a", None)["kid"] == "a"
        assert store.key_for(pinned, "x", "https://k.example/jwks") is None
        assert calls == []


def test_fetch_timeout_is_bounded(make_app, httpserver: HTTPServer, es384_key, monkeypatch):
    from cds_service.auth import guard

    monkeypatch.setattr(guard, "JWKS_FETCH_TIMEOUT", 0.3)

    def slow(request):
        time.sleep(1.0)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    jku = httpserver.url_for("/slow")
    client = make_app([{"iss": SANDBOX_LIKE_ISS, "jku": [jku]}]).test_client()
    started = time.monotonic()
    token = mint(es384_key, headers={"jku": jku}, iss=SANDBOX_LIKE_ISS)
    assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)))
    assert time.monotonic() - started < 0.9
