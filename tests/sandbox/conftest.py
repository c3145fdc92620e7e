"""Requests shaped exactly as the CDS Hooks sandbox sends them (from its source), and a loopback FHIR server.

What the sandbox does that matters here: every call comes from a browser on another origin with a JWT; the
context has `patientId` and `userId` (`Practitioner/COREPRACTITIONER1`) but never `encounterId`; it sends
`fhirServer` without `fhirAuthorization` (an open FHIR server); prefetch keys it cannot fill are left out
(never null); its order screens sign medications or CT/MR orders; order-sign requests carry `selections`.
The request's `hook` is the screen's hook (the `hook` URL parameter), not the hook of the service it calls: on
the imaging screen opened with `hook=order-sign`, every change calls our order-select service with
`"hook": "order-sign"` (`PAMA_SCREEN_HOOK`).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, _REPO_ROOT)

from tests.infra import fhir_server as fhir_infra  # noqa: E402

SANDBOX_ORIGIN = "https://sandbox.cds-hooks.org"
SANDBOX_USER = "Practitioner/COREPRACTITIONER1"
CPT = "http://www.ama-assn.org/go/cpt"
SNOMED = "http://snomed.info/sct"
ORDER_SIGN = "/cds-services/procedure-coding-order-sign"
ORDER_SELECT = "/cds-services/procedure-coding-order-select"
PAMA_SCREEN_HOOK = "order-sign"  # what the imaging screen puts in `hook`, whichever service it calls


def sandbox_call(hook: str, patient_id: str, fhir_server: str, **context) -> dict:
    """The envelope of the sandbox's service exchange: no encounterId, no fhirAuthorization, no prefetch."""
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "fhirServer": fhir_server,
        "context": {"userId": SANDBOX_USER, "patientId": patient_id, **context},
    }


def draft_bundle(*resources: dict) -> dict:
    # The sandbox's draftOrders Bundle has no `type`.
    return {"resourceType": "Bundle", "entry": [{"resource": resource} for resource in resources]}


def pama_order(patient_id: str, cpt: str = "72133", reason: str = "279039007") -> dict:
    """The draft ServiceRequest of the sandbox's PAMA imaging screen (lumbar spine CT for low back pain)."""
    return {
        "resourceType": "ServiceRequest",
        "id": "example-request-id",
        "status": "draft",
        "intent": "plan",
        "code": {"coding": [{"system": CPT, "code": cpt}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"coding": [{"system": SNOMED, "code": reason}]}],
    }


def pama_context(order: dict) -> dict:
    """order-select and order-sign from the PAMA screen both carry `selections` and the draft order."""
    return {"selections": [f"ServiceRequest/{order['id']}"], "draftOrders": draft_bundle(order)}


def medication_order(patient_id: str) -> dict:
    """The Rx Sign screen's draft MedicationRequest (R4 shape)."""
    return {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "text": "Acetaminophen 325 MG Oral Tablet",
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "313782",
                    "display": "Acetaminophen 325 MG Oral Tablet",
                }
            ],
        },
        "dosageInstruction": [{"text": "1 tablet every 6 hours"}],
    }


@pytest.fixture
def fhir(fhir_server: fhir_infra.FhirServer) -> fhir_infra.FhirServer:
    """The open loopback FHIR server (no token needed, like the one the sandbox points at), emptied."""
    fhir_server.reset()
    return fhir_server
