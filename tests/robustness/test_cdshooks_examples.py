"""Real CDS Hooks requests written for other services (the CDS Hooks spec and docs, Da Vinci CRD, the CRD
reference implementation; ../shared/data/cdshooks_examples) sent to ours.

Their `fhirServer` is pointed at a closed loopback port, so nothing leaves the machine. A request for a hook we
serve is answered 200 with valid cards (or 400/412 naming what it lacks); a request for another hook is a
400; none gets a 5xx, and none gets a CPT line: these are medication, device and imaging orders.
(The CRD reference implementation's requests carry `"fhirAuthorization": null`, which the envelope schema
refuses with a 400: CDS Hooks says to omit a field rather than send null.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES

from .conftest import SHARED_DATA

SERVICE_FOR_HOOK = {service.hook: service.id for service in SERVICES if not service.preview}
SERVICE_FOR_HOOK["order-select"] = "procedure-coding-order-select"


def hook_requests() -> list[Path]:
    found = []
    for path in sorted((SHARED_DATA / "cdshooks_examples").glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "hook" in document and "context" in document:
            found.append(path)
    return found


FILES = hook_requests() if SHARED_DATA.is_dir() else []


def test_the_examples_are_there():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data is not at {SHARED_DATA}")
    hooks = {json.loads(p.read_text(encoding="utf-8"))["hook"] for p in FILES}
    assert {"order-sign", "order-select"} <= hooks and len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_foreign_request_is_answered_without_a_line(client, dead_fhir_server, path):
    call = json.loads(path.read_text(encoding="utf-8"))
    if "fhirServer" in call:
        call["fhirServer"] = dead_fhir_server
    service_id = SERVICE_FOR_HOOK.get(call["hook"], "procedure-coding-order-sign")

    response = client.post(f"/cds-services/{service_id}", json=call)

    assert response.status_code in (200, 400, 412), response.get_data(as_text=True)
    body = response.get_json(force=True)
    if call["hook"] not in SERVICE_FOR_HOOK:
        assert response.status_code == 400
    if response.status_code != 200:
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]
        return
    assert response_problems(body) == []
    for card in body["cards"]:
        assert not card.get("extension", {}).get("cpt-coding.suggestion", {}).get("lines"), card
