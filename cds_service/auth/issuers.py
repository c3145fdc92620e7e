"""Trusted issuers: who may call the service, with which keys, and which FHIR servers each may send.

The file (JSON or YAML, named by CDS_TRUSTED_ISSUERS) holds `issuers: [...]`; each entry has `iss`, an
inline JWK Set (`jwks`) and/or the JWK Set URLs it may name in a token's `jku` header, an optional `tenant`
and its `fhirServer` base URLs. Mistakes fail loudly at start-up, naming the entry and the field.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

_FIELDS = {"iss", "tenant", "jwks", "jku", "fhirServer"}
# Asymmetric key types only: a shared secret (kty "oct") would let anyone who holds it mint tokens.
_KEY_TYPES = {"EC", "RSA"}
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class TrustConfigError(RuntimeError):
    """The trust configuration is missing or wrong; the service must not start."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_base(url: str) -> str | None:
    """scheme://host[:port]/path without a trailing slash, default port or query; None if not a plain http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if parts.query or parts.fragment:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class TrustedIssuer:
    iss: str
    keys: tuple[dict, ...] = ()
    jku: tuple[str, ...] = ()
    tenant: str | None = None
    fhir_servers: tuple[str, ...] = ()  # normalised with normalise_base
    # False for built-in issuers whose keys are pinned inline: their jku is accepted but never fetched.
    fetch_jku: bool = True

    def allows_fhir_server(self, url: str) -> bool:
        base = normalise_base(url)
        return base is not None and base in self.fhir_servers


class IssuerRegistry:
    """Issuers by `iss`; one `iss` may appear once per tenant (an EHR vendor hosting several hospitals)."""

    def __init__(self, issuers: list[TrustedIssuer]):
        self._by_iss: dict[str, list[TrustedIssuer]] = {}
        for issuer in issuers:
            self._by_iss.setdefault(issuer.iss, []).append(issuer)

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_iss.values())

    def __contains__(self, iss: str) -> bool:
        return iss in self._by_iss

    def find(self, iss: str, tenant: object) -> TrustedIssuer | None:
        """The entry for this issuer and tenant: an exact tenant match, else the entry with no tenant."""
        entries = self._by_iss.get(iss, [])
        for issuer in entries:
            if issuer.tenant is not None and issuer.tenant == tenant:
                return issuer
        return next((issuer for issuer in entries if issuer.tenant is None), None)


def _url(value: object, where: str, production: bool) -> str:
    if not isinstance(value, str) or normalise_base(value) is None:
        raise TrustConfigError(f"{where}: {value!r} is not an http(s) URL without query or credentials")
    parts = urlsplit(value)
    if production and parts.scheme.lower() != "https" and not is_loopback(parts.hostname or ""):
        raise TrustConfigError(f"{where}: {value!r} must use https in production (http only on a loopback host)")
    return value


def _url_list(value: object, where: str, production: bool) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise TrustConfigError(f"{where} must be a URL or a list of URLs")
    return [_url(item, f"{where}[{i}]", production) for i, item in enumerate(value)]


def check_public_jwk(jwk: object, where: str) -> dict:
    if not isinstance(jwk, dict):
        raise TrustConfigError(f"{where} must be a JWK object")
    if jwk.get("kty") not in _KEY_TYPES:
        raise TrustConfigError(f"{where}.kty must be one of {sorted(_KEY_TYPES)} (asymmetric keys only)")
    if not isinstance(jwk.get("kid"), str) or not jwk["kid"]:
        raise TrustConfigError(f"{where}.kid is required: tokens select their key by kid")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise TrustConfigError(f"{where} holds private key material; list public keys only")
    return jwk


def _issuer(entry: object, index: int, production: bool) -> TrustedIssuer:
    where = f"issuers[{index}]"
    if not isinstance(entry, dict):
        raise TrustConfigError(f"{where} must be an object")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise TrustConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    iss = entry.get("iss")
    if not isinstance(iss, str) or not iss:
        raise TrustConfigError(f"{where}.iss is required")
    tenant = entry.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise TrustConfigError(f"{where}.tenant must be a non-empty string when given")
    keys: list[dict] = []
    if "jwks" in entry:
        jwks = entry["jwks"]
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            raise TrustConfigError(f"{where}.jwks must be a JWK Set: an object with a non-empty 'keys' list")
        keys = [check_public_jwk(jwk, f"{where}.jwks.keys[{i}]") for i, jwk in enumerate(jwks["keys"])]
    jku = _url_list(entry.get("jku", []), f"{where}.jku", production)
    if not keys and not jku:
        raise TrustConfigError(f"{where} ({iss}) needs its keys: an inline 'jwks' and/or 'jku' URLs")
    servers = _url_list(entry.get("fhirServer", []), f"{where}.fhirServer", production)
    return TrustedIssuer(
        iss=iss,
        keys=tuple(keys),
        jku=tuple(jku),
        tenant=tenant,
        fhir_servers=tuple(normalise_base(url) or "" for url in servers),
    )


def parse_issuers(document: object, production: bool) -> list[TrustedIssuer]:
    if not isinstance(document, dict) or not isinstance(document.get("issuers"), list):
        raise TrustConfigError("the trusted-issuers file must hold an object with an 'issuers' list")
    issuers = [_issuer(entry, i, production) for i, entry in enumerate(document["issuers"])]
    seen: set[tuple[str, str | None]] = set()
    for issuer in issuers:
        if (issuer.iss, issuer.tenant) in seen:
            raise TrustConfigError(f"issuer {issuer.iss!r} (tenant {issuer.tenant!r}) is listed twice")
        seen.add((issuer.iss, issuer.tenant))
    return issuers


def load_issuers(path: Path, production: bool) -> list[TrustedIssuer]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrustConfigError(f"cannot read the trusted-issuers file {path}: {exc.strerror or exc}") from None
    try:
        # YAML is a superset of JSON, but JSON files get JSON's clearer error messages.
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TrustConfigError(f"the trusted-issuers file {path} is not valid JSON/YAML: {exc}") from None
    try:
        return parse_issuers(document, production)
    except TrustConfigError as exc:
        raise TrustConfigError(f"{path}: {exc}") from None
