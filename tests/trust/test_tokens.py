"""JWT authentication in production: every forged or broken token is a generic 401; honest tokens pass."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from .kit import (
    BASE,
    ISS,
    ORDER_SIGN,
    assert_auth_failed,
    b64url,
    bearer,
    claims,
    hand_made,
    hs256,
    mint,
    order_sign_call,
)

AUD = BASE + ORDER_SIGN


def _tampered(key) -> str:
    header, payload, signature = mint(key).split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["aud"] = BASE + "/cds-services/procedure-coding-encounter-discharge"
    return ".".join([header, b64url(json.dumps(body).encode()), signature])


def _now() -> int:
    return int(time.time())


def _none_alg(k, s) -> str:
    return hand_made({"alg": "none", "typ": "JWT", "kid": k.kid}, claims(AUD))


def _hs256(secret_of):
    return lambda k, s: hand_made({"alg": "HS256", "typ": "JWT", "kid": k.kid}, claims(AUD), hs256(secret_of(k)))


# name -> (the reason the log must give, how to make the token from the trusted key k and a stranger's key s)
FORGERIES = {
    "alg none": ("algorithm not allowed", _none_alg),
    "alg none, no signature part": ("malformed token", lambda k, s: _none_alg(k, s).rstrip(".")),
    "HS256 with the public key as secret": ("algorithm not allowed", _hs256(lambda k: k.public_pem)),
    "HS256 with the JWK's x as secret": ("algorithm not allowed", _hs256(lambda k: k.public_jwk["x"].encode())),
    "wrong aud": ("aud is not the URL called", lambda k, s: mint(k, aud=BASE + "/cds-services/other")),
    "aud of another host": ("aud is not the URL called", lambda k, s: mint(k, aud="https://x.example" + ORDER_SIGN)),
    "aud with a trailing slash": ("aud is not the URL called", lambda k, s: mint(k, aud=AUD + "/")),
    "expired": ("expired", lambda k, s: mint(k, exp=_now() - 600, iat=_now() - 900)),
    "iat in the future": ("iat or nbf in the future", lambda k, s: mint(k, iat=_now() + 600, exp=_now() + 900)),
    "exp missing": ("missing claim exp", lambda k, s: mint(k, exp=None)),
    "iat missing": ("missing claim iat", lambda k, s: mint(k, iat=None)),
    "jti missing": ("missing claim jti", lambda k, s: mint(k, jti=None)),
    "lifetime beyond the replay window": ("exp too far in the future", lambda k, s: mint(k, exp=_now() + 86400)),
    "unknown kid": ("unknown kid", lambda k, s: mint(k, headers={"kid": "no-such-key"})),
    "missing kid": ("missing kid", lambda k, s: mint(k, headers={"kid": None})),
    "untrusted iss": ("untrusted iss", lambda k, s: mint(k, iss="https://evil.example")),
    "iss missing": ("missing iss", lambda k, s: mint(k, iss=None)),
    "jku not on the list": ("jku not on the issuer's list", lambda k, s: mint(k, headers={"jku": "https://evil.example/k"})),
    "stranger's key under a trusted kid": ("bad signature", lambda k, s: mint(s)),
    "typ not JWT": ("typ is not JWT", lambda k, s: mint(k, headers={"typ": "at+jwt"})),
    "ES384 token naming the RSA key": ("unusable key", lambda k, s: mint(k, headers={"kid": "rs384-key-1"})),
    "tampered payload": ("bad signature", lambda k, s: _tampered(k)),
    "garbage": ("malformed token", lambda k, s: "garbage"),
    "three garbage parts": ("malformed token", lambda k, s: "a.b.c"),
    "empty signature": ("bad signature", lambda k, s: mint(k).rsplit(".", 1)[0] + "."),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_or_broken_token_is_401(prod_client, es384_key, stranger_key, name, auth_log):
    reason, forge = FORGERIES[name]
    token = forge(es384_key, stranger_key)
    response = prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token))
    assert_auth_failed(response)
    # Refused for the reason under test, not by accident; the reason is in the log only.
    assert len(auth_log) == 1 and auth_log[0].reason.startswith(reason), [r.reason for r in auth_log]
    assert reason not in response.get_data(as_text=True)


def test_replayed_jti_is_401(prod_client, es384_key):
    token = mint(es384_key)
    assert prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200
    assert_auth_failed(prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)))


def test_a_rejected_token_does_not_use_up_its_jti(prod_client, es384_key):
    """Only fully valid tokens are recorded, so a forgery cannot block an honest token's jti."""
    jti = "shared-jti-1"
    assert_auth_failed(prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(es384_key, jti=jti,
                                                                                                 aud="https://x"))))
    response = prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(es384_key, jti=jti)))
    assert response.status_code == 200


@pytest.mark.parametrize("key_name", ["es384_key", "rs384_key"])
def test_valid_token_is_200(prod_client, key_name, request):
    key = request.getfixturevalue(key_name)
    response = prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(key)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["cards"] == [] or isinstance(response.get_json()["cards"], list)


def test_aud_may_be_a_list_holding_the_called_url(prod_client, es384_key):
    token = mint(es384_key, aud=["https://other.example/cds-services", AUD])
    assert prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200


def test_small_clock_skew_is_tolerated(prod_client, es384_key):
    token = mint(es384_key, iat=int(time.time()) + 20)
    assert prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "header",
    [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer-token", "Token abc.def.ghi"],
)
def test_missing_or_non_bearer_authorization_is_401(prod_client, header):
    headers = {"Authorization": header} if header is not None else {}
    assert_auth_failed(prod_client.post(ORDER_SIGN, json=order_sign_call(), headers=headers))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cds-services"),
        ("GET", "/cds-services/"),
        ("POST", "/cds-services/procedure-coding-order-sign/feedback"),
        ("POST", "/cds-services/no-such-service"),
        ("GET", "/cds-services/procedure-coding-order-sign"),
    ],
)
def test_every_path_under_cds_services_needs_a_token(prod_client, method, path):
    assert_auth_failed(prod_client.open(path, method=method, json={"feedback": []}))


def test_discovery_with_token_for_its_own_url(prod_client, es384_key):
    token = mint(es384_key, aud=BASE + "/cds-services")
    response = prod_client.get("/cds-services", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["services"]


def test_health_and_preflight_need_no_token(prod_client):
    assert prod_client.get("/healthz").status_code == 200
    preflight = prod_client.options(
        ORDER_SIGN, headers={"Origin": "https://ehr.example", "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "authorization, content-type"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_401_carries_cors_headers_so_browsers_can_read_it(prod_client):
    response = prod_client.get("/cds-services", headers={"Origin": "https://ehr.example"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://ehr.example"


def test_reason_goes_to_the_log_not_to_the_caller(prod_client, es384_key, caplog):
    token = mint(es384_key, aud="https://elsewhere.example/cds-services")
    response = prod_client.get("/cds-services", headers=bearer(token))
    assert_auth_failed(response)
    assert "aud" not in response.get_data(as_text=True)


class TestTenantAndIssuerSelection:
    @pytest.fixture
    def client(self, make_app, es384_key, rs384_key):
        return make_app([
            {"iss": ISS, "tenant": "hospital-a", "jwks": {"keys": [es384_key.public_jwk]}},
            {"iss": ISS, "tenant": "hospital-b", "jwks": {"keys": [rs384_key.public_jwk]}},
        ]).test_client()

    def test_configured_tenant_is_required(self, client, es384_key):
        assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(mint(es384_key))))

    def test_matching_tenant_passes(self, client, es384_key):
        token = mint(es384_key, tenant="hospital-a")
        assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200

    def test_other_tenants_key_does_not_verify(self, client, es384_key):
        """hospital-b trusts only the RS384 key: an ES384 token claiming hospital-b must fail."""
        token = mint(es384_key, tenant="hospital-b")
        assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)))

    def test_unknown_tenant_fails(self, client, es384_key):
        token = mint(es384_key, tenant="hospital-z")
        assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)))


class TestAudienceBehindAProxy:
    def test_forwarded_headers_are_ignored_unless_trusted(self, make_app, issuer_entry, es384_key):
        client = make_app([issuer_entry]).test_client()
        token = mint(es384_key, aud="https://cds.example.org" + ORDER_SIGN)
        headers = {**bearer(token), "X-Forwarded-Proto": "https", "X-Forwarded-Host": "cds.example.org"}
        assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=headers))

    def test_forwarded_headers_when_trusted(self, make_app, issuer_entry, es384_key):
        client = make_app([issuer_entry], trust_forwarded_headers=True).test_client()
        token = mint(es384_key, aud="https://cds.example.org" + ORDER_SIGN)
        headers = {**bearer(token), "X-Forwarded-Proto": "https", "X-Forwarded-Host": "cds.example.org"}
        assert client.post(ORDER_SIGN, json=order_sign_call(), headers=headers).status_code == 200

    def test_public_base_url_wins_over_the_host_header(self, make_app, issuer_entry, es384_key):
        client = make_app([issuer_entry], public_base_url="https://cds.example.org/coding").test_client()
        good = mint(es384_key, aud="https://cds.example.org/coding" + ORDER_SIGN)
        assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(good)).status_code == 200
        host_based = mint(es384_key, aud=BASE + ORDER_SIGN)
        assert_auth_failed(client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(host_based)))
