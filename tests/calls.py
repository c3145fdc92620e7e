"""Hook-call builders shared by the tests: one place for the shape of a minimal valid request."""

from __future__ import annotations

import uuid


def fhir_authorization(access_token: str) -> dict:
    return {
        "access_token": access_token, "token_type": "Bearer", "expires_in": 300,
        "scope": "user/*.read", "subject": "cds-service",
    }


def order_sign_call(**overrides) -> dict:
    """An order-sign call with an empty draft-order Bundle and every prefetch key answered 'no data'."""
    call = {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/pr1",
            "patientId": "p1",
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": []},
        },
        "prefetch": {"patient": None, "encounter": None, "conditions": None, "coverage": None},
    }
    call.update(overrides)
    return call


def discharge_call(
    fhir_server: str | None = None,
    access_token: str | None = None,
    *,
    patient_id: str = "p1",
    encounter_id: str = "e1",
    user_id: str = "Practitioner/pr1",
    prefetch: dict | None = None,
    **overrides,
) -> dict:
    """An encounter-discharge call; fhirAuthorization only when both a server and a token are given."""
    call = {
        "hook": "encounter-discharge",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": user_id, "patientId": patient_id, "encounterId": encounter_id},
    }
    if fhir_server:
        call["fhirServer"] = fhir_server
        if access_token:
            call["fhirAuthorization"] = fhir_authorization(access_token)
    if prefetch is not None:
        call["prefetch"] = prefetch
    call.update(overrides)
    return call
