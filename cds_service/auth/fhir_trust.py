"""Which fhirServer the service may call (and send the access token to) for the authenticated client.

In production only a server on the authenticated issuer's `fhirServer` list; otherwise the hook call ends
in 403 before any outbound request. In development the list is enforced only when the authenticated
issuer has one (the sandbox's built-in issuer has none: it lets developers pick any server).
"""

from __future__ import annotations

from flask import g, has_app_context

from ..config import Settings
from ..protocol.errors import ServiceError
from .issuers import TrustedIssuer


def authenticated_issuer() -> TrustedIssuer | None:
    return g.get("issuer") if has_app_context() else None


def check_fhir_server(settings: Settings, server: str) -> None:
    issuer = authenticated_issuer()
    enforced = settings.production or (issuer is not None and bool(issuer.fhir_servers))
    if enforced and (issuer is None or not issuer.allows_fhir_server(server)):
        raise ServiceError(
            403, "fhirServer is not among the FHIR servers this service may call for this client",
            expression="fhirServer",
        )
