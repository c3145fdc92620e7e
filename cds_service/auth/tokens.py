"""Validation of the CDS client's JWT (CDS Hooks 2.0 "Trusting CDS Clients", and its best practices).

Asymmetric algorithms only; the issuer must be trusted (and its tenant, when configured); the header's
`kid` selects the key and a `jku` must be on the issuer's list; `aud` must be the exact URL called; `exp`,
`iat` and `jti` are required; a `jti` is accepted once. Every failure raises AuthFailure with a reason
for the log; the caller only ever learns "authentication failed".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from .issuers import IssuerRegistry, TrustedIssuer
from .keys import KeyStore

# ES384 and RS384 are the ones CDS Hooks recommends; never "none" and never an HMAC (a shared secret).
ALLOWED_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
MAX_TOKEN_CHARS = 16 * 1024
MIN_RSA_BITS = 2048


class ReplayStore(Protocol):
    """Where seen `jti`s are remembered across workers: the service's store (cds_service/store/)."""

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool: ...


def _short(value: object) -> str | None:
    """Attacker-chosen header values go to the log only as short strings."""
    return None if value is None else str(value)[:120]


class AuthFailure(Exception):
    def __init__(self, reason: str, iss: object = None, kid: object = None):
        super().__init__(reason)
        self.reason = reason
        self.iss = _short(iss)
        self.kid = _short(kid)


@lru_cache(maxsize=256)
def _verification_key(jwk_json: str, alg: str) -> jwt.PyJWK:
    return jwt.PyJWK(json.loads(jwk_json), algorithm=alg)


def verification_key(jwk: dict, alg: str) -> jwt.PyJWK:
    """The JWK as a key bound to alg, after checking that the two belong together."""
    if jwk.get("alg") not in (None, alg):
        raise ValueError(f"key is for {jwk.get('alg')}, token says {alg}")
    if jwk.get("use") not in (None, "sig"):
        raise ValueError("key is not a signing key")
    if alg in _EC_CURVES:
        if jwk.get("kty") != "EC" or jwk.get("crv") != _EC_CURVES[alg]:
            raise ValueError(f"{alg} needs an EC {_EC_CURVES[alg]} key")
    elif jwk.get("kty") != "RSA":
        raise ValueError(f"{alg} needs an RSA key")
    key = _verification_key(json.dumps(jwk, sort_keys=True), alg)
    if jwk["kty"] == "RSA" and key.key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key shorter than {MIN_RSA_BITS} bits")
    return key


@dataclass
class TokenValidator:
    issuers: IssuerRegistry
    keys: KeyStore
    replay: ReplayStore
    leeway_seconds: int = 60
    max_lifetime_seconds: int = 3600
    clock: Callable[[], float] = time.time

    def validate(self, token: str, audience: str) -> TrustedIssuer:
        """The trusted issuer that signed this token for this URL; AuthFailure otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthFailure("token too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except PyJWTError:
            raise AuthFailure("malformed token") from None
        kid = header.get("kid")
        iss = unverified.get("iss")
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthFailure(f"algorithm not allowed: {_short(alg)}", iss, kid)
        if "typ" in header and str(header["typ"]).upper() != "JWT":
            raise AuthFailure("typ is not JWT", iss, kid)
        if not isinstance(kid, str) or not kid:
            raise AuthFailure("missing kid", iss, kid)
        if not isinstance(iss, str) or not iss:
            raise AuthFailure("missing iss", iss, kid)
        issuer = self.issuers.find(iss, unverified.get("tenant"))
        if issuer is None:
            reason = "tenant not trusted for this iss" if iss in self.issuers else "untrusted iss"
            raise AuthFailure(reason, iss, kid)
        jku = header.get("jku")
        if jku is not None and jku not in issuer.jku:
            raise AuthFailure("jku not on the issuer's list", iss, kid)
        jwk = self.keys.key_for(issuer, kid, jku)
        if jwk is None:
            raise AuthFailure("unknown kid", iss, kid)
        try:
            key = verification_key(jwk, alg)
        except (ValueError, PyJWTError) as exc:
            raise AuthFailure(f"unusable key: {exc}", iss, kid) from None
        claims = self._verified_claims(token, key, alg, iss, audience, kid)
        self._check_lifetime_and_tenant(claims, issuer, kid)
        # Last: a token that fails any other check must not use up its jti.
        if not self.replay.first_use(iss, claims["jti"], float(claims["exp"]) + self.leeway_seconds):
            raise AuthFailure("jti already used", iss, kid)
        return issuer

    def _verified_claims(self, token: str, key: jwt.PyJWK, alg: str, iss: str, audience: str, kid: str) -> dict:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=iss,
                leeway=self.leeway_seconds,
                options={"require": _REQUIRED_CLAIMS},
            )
        except InvalidSignatureError:
            reason = "bad signature"
        except ExpiredSignatureError:
            reason = "expired"
        except ImmatureSignatureError:
            reason = "iat or nbf in the future"
        except InvalidAudienceError:
            reason = "aud is not the URL called"
        except MissingRequiredClaimError as exc:
            reason = f"missing claim {exc.claim}"
        except PyJWTError as exc:
            reason = f"invalid token ({type(exc).__name__})"
        raise AuthFailure(reason, iss, kid)

    def _check_lifetime_and_tenant(self, claims: dict, issuer: TrustedIssuer, kid: str) -> None:
        iss = claims["iss"]
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise AuthFailure("jti must be a non-empty string", iss, kid)
        # The replay store remembers a jti until exp; a far-off exp would make that memory unbounded.
        if float(claims["exp"]) > self.clock() + self.max_lifetime_seconds + self.leeway_seconds:
            raise AuthFailure("exp too far in the future", iss, kid)
        if issuer.tenant is not None and claims.get("tenant") != issuer.tenant:
            raise AuthFailure("tenant mismatch", iss, kid)
