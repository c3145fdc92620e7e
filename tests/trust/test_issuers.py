"""The trusted-issuers file, the profiles, and start-up: production refuses to run without trust set up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.auth.guard import trusted_issuers
from cds_service.auth.issuers import TrustConfigError, load_issuers, normalise_base
from cds_service.auth.sandbox import SANDBOX_ISS, SANDBOX_JKU, SANDBOX_JWKS
from cds_service.config import PRODUCTION, Settings

from .kit import ISS, write_issuers

REFERENCE_JWKS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "cds-hooks-artifacts" / "jwks.json"


def test_production_without_issuers_file_refuses_to_start(make_app):
    with pytest.raises(TrustConfigError, match="CDS_TRUSTED_ISSUERS"):
        make_app(None)


def test_production_from_env_without_issuers_file_refuses_to_start(tmp_path):
    settings = Settings.from_env({"CDS_PROFILE": "production", "CDS_SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    assert settings.requires_authentication and not settings.trusts_sandbox_issuer
    with pytest.raises(TrustConfigError, match="production profile needs a trusted-issuers file"):
        trusted_issuers(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CDS_AUTH_REQUIRED": "0"}, "CDS_AUTH_REQUIRED cannot be turned off"),
        ({"CDS_TRUST_SANDBOX": "1"}, "sandbox's private key is public"),
    ],
)
def test_production_refuses_unsafe_switches(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"CDS_PROFILE": "production", **env})


def test_production_refuses_the_sandbox_issuer_in_the_file(make_app):
    with pytest.raises(TrustConfigError, match="sandbox"):
        make_app([{"iss": SANDBOX_ISS, "jwks": SANDBOX_JWKS}])


def test_production_refuses_an_empty_list(make_app):
    with pytest.raises(TrustConfigError, match="no issuers"):
        make_app([])


def test_development_trusts_the_sandbox_from_its_inline_keys(tmp_path):
    registry = trusted_issuers(Settings(sqlite_path=tmp_path / "x.sqlite3"))
    sandbox = registry.find(SANDBOX_ISS, None)
    assert sandbox is not None and not sandbox.fetch_jku and sandbox.jku == (SANDBOX_JKU,)
    assert sandbox.tenant is None and sandbox.fhir_servers == ()
    assert trusted_issuers(Settings(trust_sandbox_issuer=False)).find(SANDBOX_ISS, None) is None


@pytest.mark.skipif(not REFERENCE_JWKS.exists(), reason="the reference copy of the sandbox JWK Set is not here")
def test_inline_sandbox_keys_match_the_published_set():
    assert json.loads(REFERENCE_JWKS.read_text())["keys"] == SANDBOX_JWKS["keys"]


def test_yaml_file_with_every_field(tmp_path, es384_key):
    path = tmp_path / "issuers.yaml"
    jwk = es384_key.public_jwk
    path.write_text(
        f"""
issuers:
  - iss: {ISS}
    tenant: hospital-a
    jwks:
      keys:
        - {json.dumps(jwk)}
    jku:
      - https://ehr.test.example/.well-known/jwks.json
    fhirServer:
      - https://FHIR.test.example:443/r4/
""",
        encoding="utf-8",
    )
    [issuer] = load_issuers(path, production=True)
    assert issuer.iss == ISS and issuer.tenant == "hospital-a"
    assert issuer.keys == (jwk,)
    assert issuer.jku == ("https://ehr.test.example/.well-known/jwks.json",)
    assert issuer.allows_fhir_server("https://fhir.test.example/r4")
    assert issuer.allows_fhir_server("https://fhir.test.example/r4/")
    assert not issuer.allows_fhir_server("https://fhir.test.example/r4/../other")
    assert not issuer.allows_fhir_server("https://fhir.test.example.evil.example/r4")
    assert not issuer.allows_fhir_server("http://fhir.test.example/r4")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"jwks": {"keys": []}}, "iss is required"),
        ({"iss": ISS}, "needs its keys"),
        ({"iss": ISS, "jwks": {"keys": []}}, "non-empty 'keys'"),
        ({"iss": ISS, "jwks": {"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]}}, "asymmetric keys only"),
        ({"iss": ISS, "jwks": {"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}]}}, "kid is required"),
        ({"iss": ISS, "jwks": {"keys": [{"kty": "EC", "kid": "k", "d": "secret"}]}}, "private key material"),
        ({"iss": ISS, "jku": ["http://keys.example/jwks.json"]}, "must use https in production"),
        ({"iss": ISS, "jku": ["file:///etc/jwks.json"]}, "not an http(s) URL"),
        ({"iss": ISS, "jku": "https://k.example/j", "fhirServer": ["https://user:pw@fhir.example"]}, "credentials"),
        ({"iss": ISS, "jku": "https://k.example/j", "fhirServers": []}, "unknown field"),
        ({"iss": ISS, "jku": "https://k.example/j", "tenant": 7}, "tenant must be"),
    ],
)
def test_mistakes_fail_loudly_naming_the_field(tmp_path, entry, message):
    path = write_issuers(tmp_path / "issuers.json", [entry])
    with pytest.raises(TrustConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        load_issuers(path, production=True)
    assert str(path) in str(caught.value) and "issuers[0]" in str(caught.value)


def test_loopback_http_is_allowed_in_production(tmp_path):
    path = write_issuers(tmp_path / "i.json", [{"iss": ISS, "jku": "http://127.0.0.1:9/jwks.json"}])
    assert load_issuers(path, production=True)[0].jku == ("http://127.0.0.1:9/jwks.json",)


def test_duplicate_issuer_and_tenant_is_an_error(tmp_path):
    entry = {"iss": ISS, "jku": "https://k.example/j"}
    with pytest.raises(TrustConfigError, match="listed twice"):
        load_issuers(write_issuers(tmp_path / "i.json", [entry, entry]), production=False)


def test_unreadable_or_malformed_file(tmp_path):
    with pytest.raises(TrustConfigError, match="cannot read"):
        load_issuers(tmp_path / "missing.json", production=True)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TrustConfigError, match="not valid JSON/YAML"):
        load_issuers(bad, production=True)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Fhir.Example:443/r4/", "https://fhir.example/r4"),
        ("http://127.0.0.1:8080/fhir", "http://127.0.0.1:8080/fhir"),
        ("file:///etc/passwd", None),
        ("gopher://fhir.example/", None),
        ("https://fhir.example/r4?x=1", None),
        ("https://fhir.example:99999/", None),
    ],
)
def test_normalise_base(url, expected):
    assert normalise_base(url) == expected


def test_development_warns_once_that_authentication_is_optional(make_app, auth_log):
    import logging

    seen: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("cds_service.auth.guard")
    handler = Catch(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        make_app(None, profile="development")
    finally:
        logger.removeHandler(handler)
    assert len(seen) == 1 and "authentication is OPTIONAL" in seen[0]


def test_production_settings_require_authentication_even_if_the_flag_is_off():
    assert Settings(profile=PRODUCTION, auth_required=False).requires_authentication
    assert not Settings(profile=PRODUCTION, trust_sandbox_issuer=True).trusts_sandbox_issuer
