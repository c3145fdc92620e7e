"""Helpers of the trust tests: signing keys, token minting (honest and forged), calls, assertions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.calls import discharge_call, order_sign_call  # noqa: F401 - re-exported for the trust tests

ISS = "https://ehr.test.example"
ORDER_SIGN = "/cds-services/procedure-coding-order-sign"
DISCHARGE = "/cds-services/procedure-coding-encounter-discharge"
BASE = "http://localhost"  # what Flask's test client calls


@dataclass
class SigningKey:
    private: object
    kid: str
    alg: str

    @property
    def public_jwk(self) -> dict:
        to_jwk = ECAlgorithm.to_jwk if self.alg.startswith("ES") else RSAAlgorithm.to_jwk
        jwk = to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims(aud: str, **overrides) -> dict:
    now = int(time.time())
    payload = {"iss": ISS, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def mint(key: SigningKey, aud: str = BASE + ORDER_SIGN, headers: dict | None = None, **overrides) -> str:
    header = {"kid": key.kid, "typ": "JWT", **(headers or {})}
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(claims(aud, **overrides), key.private, algorithm=key.alg, headers=header)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict, payload: dict, sign=None) -> str:
    """A JWT assembled by hand, for forgeries PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


def hs256(secret: bytes):
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def write_issuers(path: Path, issuers: list[dict]) -> Path:
    path.write_text(json.dumps({"issuers": issuers}), encoding="utf-8")
    return path


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}




def assert_outcome(response, status: int, mentions: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome"
    if mentions:
        assert mentions in body["issue"][0]["diagnostics"], body
    return body


def assert_auth_failed(response) -> None:
    body = assert_outcome(response, 401)
    assert body["issue"][0]["diagnostics"] == "authentication failed"  # generic: no reason for the caller
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
