"""Fixtures of the trust tests: keys generated per session, issuer files and apps per test."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

_REPO_ROOT = Path(__file__).resolve().parents[2]
if str(_REPO_ROOT) not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, str(_REPO_ROOT))

from cds_service.app import create_app  # noqa: E402
from cds_service.config import PRODUCTION, Settings  # noqa: E402

from .kit import ISS, SigningKey, write_issuers  # noqa: E402


@pytest.fixture(scope="session")
def es384_key() -> SigningKey:
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), "es384-key-1", "ES384")


@pytest.fixture(scope="session")
def rs384_key() -> SigningKey:
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rs384-key-1", "RS384")


@pytest.fixture(scope="session")
def stranger_key() -> SigningKey:
    """A key nobody trusts, reusing the trusted ES384 kid."""
    return SigningKey(ec.generate_private_key(ec.SECP384R1()), "es384-key-1", "ES384")


@pytest.fixture
def issuer_entry(es384_key, rs384_key) -> dict:
    return {"iss": ISS, "jwks": {"keys": [es384_key.public_jwk, rs384_key.public_jwk]}, "fhirServer": []}


@pytest.fixture
def make_app(tmp_path):
    """An app in the given profile trusting the given issuer entries (written to a real issuers file)."""

    def build(issuers: list[dict] | None, profile: str = PRODUCTION, **overrides):
        issuers_file = write_issuers(tmp_path / "issuers.json", issuers) if issuers is not None else None
        values = {"fhir_request_timeout": 1.0, "fhir_time_budget": 2.0, **overrides}
        settings = Settings(
            profile=profile, sqlite_path=tmp_path / "cds.sqlite3", trusted_issuers_file=issuers_file, **values
        )
        app = create_app(settings)
        app.config["TESTING"] = True
        return app

    return build


@pytest.fixture
def prod_client(make_app, issuer_entry):
    return make_app([issuer_entry]).test_client()


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def auth_log():
    """Records of 'authentication failed' logged by the guard (the project's loggers do not propagate)."""
    handler = _Records()
    logger = logging.getLogger("cds_service.auth.guard")
    logger.addHandler(handler)
    yield _Failures(handler)
    logger.removeHandler(handler)


class _Failures:
    def __init__(self, handler: _Records):
        self._handler = handler

    def _failures(self) -> list[logging.LogRecord]:
        return [r for r in self._handler.records if r.getMessage() == "authentication failed"]

    def __len__(self) -> int:
        return len(self._failures())

    def __getitem__(self, index: int) -> logging.LogRecord:
        return self._failures()[index]

    def __iter__(self):
        return iter(self._failures())


@pytest.fixture
def other_host():
    """A second loopback server standing for a host the service must never be turned against."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request(re.compile(".*")).respond_with_json({"resourceType": "Bundle", "type": "searchset"})
    yield server
    server.clear()
    server.stop()
