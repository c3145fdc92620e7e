"""Hook-call builders shared by the tests: one place for the shape of a minimal valid request."""

from __future__ import annotations

import json
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


def fetch_mode(call: dict, fhir_base: str) -> tuple[dict, list[dict]]:
    """The same call from an EHR that prefetches nothing: (the call with `fhirServer` and no prefetch, the
    prefetched resources, once each, to load into that FHIR server first). Absolute references to the call's
    own `fhirServer` are moved to `fhir_base` with it."""
    if call.get("fhirServer"):
        text = json.dumps(call).replace(call["fhirServer"].rstrip("/") + "/", fhir_base.rstrip("/") + "/")
        call = json.loads(text)
    resources: dict[tuple[str, str], dict] = {}
    for value in (call.get("prefetch") or {}).values():
        if not isinstance(value, dict):
            continue
        found = [e["resource"] for e in value.get("entry", []) if "resource" in e] \
            if value.get("resourceType") == "Bundle" else [value]
        for resource in found:
            resources[(resource["resourceType"], resource["id"])] = resource
    fetching = {key: value for key, value in call.items() if key != "prefetch"}
    fetching["fhirServer"] = fhir_base
    return fetching, list(resources.values())
