"""The HTTP side of authentication: which paths need a token, the URL the caller called, the 401 answer.

Registered after CORS so that preflights (which never carry credentials) are answered first. Every path
under /cds-services (discovery, services, feedback) is protected; /healthz and the rest are not.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, Request, Response, g, request

from .. import metrics
from ..config import Settings
from ..fhir.client import new_session
from ..protocol.errors import outcome_response
from ..store import StoreUnavailable
from .issuers import IssuerRegistry, TrustConfigError, TrustedIssuer, load_issuers
from .keys import KeyStore, fetch_jwks
from .sandbox import SANDBOX_ISS, sandbox_issuer
from .tokens import AuthFailure, ReplayStore, TokenValidator

log = logging.getLogger(__name__)

_PROTECTED = re.compile(r"^/cds-services(/|$)")
JWKS_FETCH_TIMEOUT = 2.0


def trusted_issuers(settings: Settings) -> IssuerRegistry:
    """The issuers this service trusts; raises TrustConfigError when production cannot start safely."""
    issuers: list[TrustedIssuer] = []
    if settings.trusted_issuers_file is not None:
        issuers = load_issuers(settings.trusted_issuers_file, production=settings.production)
    elif settings.production:
        raise TrustConfigError(
            "the production profile needs a trusted-issuers file: set CDS_TRUSTED_ISSUERS to the path of a "
            "JSON or YAML file listing the EHRs allowed to call this service (format: README, section Trust)"
        )
    if settings.production:
        if not issuers:
            raise TrustConfigError(f"{settings.trusted_issuers_file}: lists no issuers; production would admit no one")
        if any(issuer.iss == SANDBOX_ISS for issuer in issuers):
            raise TrustConfigError(
                f"{settings.trusted_issuers_file}: the CDS Hooks sandbox ({SANDBOX_ISS}) cannot be trusted in "
                "production: its private key is public"
            )
    elif settings.trusts_sandbox_issuer and not any(issuer.iss == SANDBOX_ISS for issuer in issuers):
        issuers.append(sandbox_issuer())
    return IssuerRegistry(issuers)


def build_validator(settings: Settings, replay: ReplayStore) -> TokenValidator:
    session = new_session(pool_size=4)
    return TokenValidator(
        issuers=trusted_issuers(settings),
        keys=KeyStore(
            lambda url: fetch_jwks(session, url, JWKS_FETCH_TIMEOUT),
            refresh_interval=settings.jwks_refresh_interval,
        ),
        replay=replay,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_lifetime_seconds=settings.jwt_max_lifetime_seconds,
    )


def _first(value: str | None) -> str | None:
    """The first (client-side) value of a forwarded header."""
    if not value:
        return None
    return value.split(",")[0].strip() or None


def called_url(req: Request, settings: Settings) -> str:
    """scheme://host[:port]/path the caller used: what the token's `aud` must equal.

    The Host header is the caller's to choose, so deployments should set CDS_PUBLIC_BASE_URL; forwarded
    headers count only when CDS_TRUST_FORWARDED says a proxy we trust sets them.
    """
    if settings.public_base_url:
        base = settings.public_base_url
    elif settings.trust_forwarded_headers:
        scheme = _first(req.headers.get("X-Forwarded-Proto")) or req.scheme
        host = _first(req.headers.get("X-Forwarded-Host")) or req.host
        base = f"{scheme}://{host}"
    else:
        base = f"{req.scheme}://{req.host}{req.script_root}"
    return base + req.path


def unauthorized(invalid_token: bool) -> Response:
    response = outcome_response("authentication failed", 401)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
    return response


def register_auth(app: Flask, settings: Settings, replay: ReplayStore) -> None:
    validator = build_validator(settings, replay)
    required = settings.requires_authentication
    if not required:
        log.warning(
            "authentication is OPTIONAL (development profile): calls without a token are accepted; tokens that "
            "are sent are still checked. Use CDS_PROFILE=production for real data.",
            extra={"profile": settings.profile, "count": len(validator.issuers)},
        )
    elif settings.production and not settings.public_base_url:
        log.warning(
            "CDS_PUBLIC_BASE_URL is not set: token audiences are checked against the Host header the caller sends",
            extra={"profile": settings.profile},
        )
    log.info("trusted issuers loaded", extra={"count": len(validator.issuers), "profile": settings.profile})

    @app.before_request
    def _authenticate():
        g.issuer = None
        if not _PROTECTED.match(re.sub("/{2,}", "/", request.path)):
            return None
        header = request.headers.get("Authorization")
        if header is None:
            if required:
                metrics.JWT_FAILURES.labels("no Authorization header").inc()
                log.warning("authentication failed", extra={"reason": "no Authorization header", "path": request.path})
                return unauthorized(invalid_token=False)
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            metrics.JWT_FAILURES.labels("not a Bearer token").inc()
            log.warning("authentication failed", extra={"reason": "not a Bearer token", "path": request.path})
            return unauthorized(invalid_token=True)
        try:
            g.issuer = validator.validate(token.strip(), called_url(request, settings))
        except AuthFailure as failure:
            metrics.JWT_FAILURES.labels(metrics.jwt_reason(failure.reason)).inc()
            log.warning(
                "authentication failed",
                extra={"reason": failure.reason, "iss": failure.iss, "kid": failure.kid, "path": request.path},
            )
            return unauthorized(invalid_token=True)
        except StoreUnavailable as exc:
            # Fail closed, but say it is on our side: the caller's token may be fine.
            log.error("replay store unavailable", extra={"error": str(exc), "path": request.path})
            return outcome_response("authentication is temporarily unavailable", 503)
        return None
