"""Every official HL7 R4 example of a type the service reads goes through the parser and evidence extraction.

Sources (../shared/data): `hl7_examples/` (the hl7.fhir.r4.examples 4.0.1 package: single resources and
Bundles), `other/us-core/` (US Core IG examples) and `other/cms-bfd/` (CMS Blue Button examples). The
examples are valid R4, so the structural checks must accept every one; then the evidence layer and the
engine read them as each hook would (as prefetch, as draft orders, as the signed note) without an exception
escaping and with spec-valid answers.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from cds_service.coding import build_coder
from cds_service.config import Settings
from cds_service.evidence.facts import collect_evidence
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.fhir.client import entry_resources
from cds_service.fhir.shape import invalid_reason
from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES_BY_ID

from .conftest import SHARED_DATA

READ_TYPES = {
    "Procedure", "Condition", "ImagingStudy", "Observation", "DocumentReference", "Encounter", "ServiceRequest",
    "Coverage", "Patient",
}
EXAMPLE_DIRS = ("hl7_examples", "other/us-core", "other/cms-bfd")


def _resources(document: dict) -> list[dict]:
    if document.get("resourceType") == "Bundle":
        nested = []
        for resource in entry_resources(document):
            nested.extend(_resources(resource))  # Bundles of Bundles (documents, messages)
        return nested
    return [document]


def example_files() -> list[Path]:
    files = []
    for folder in EXAMPLE_DIRS:
        for path in sorted((SHARED_DATA / folder).glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            if any(r.get("resourceType") in READ_TYPES for r in _resources(document)):
                files.append(path)
    return files


FILES = example_files() if SHARED_DATA.is_dir() else []


@cache
def engine():
    return build_coder(Settings())


def _read(path: Path) -> list[dict]:
    return [r for r in _resources(json.loads(path.read_text(encoding="utf-8"))) if r.get("resourceType") in READ_TYPES]


def test_the_examples_are_there():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data is not at {SHARED_DATA}")
    types = {r["resourceType"] for path in FILES for r in _read(path)}
    assert types == READ_TYPES, READ_TYPES - types
    assert len(FILES) >= 80


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_example_is_accepted_and_read_by_every_hook(path):
    resources = _read(path)
    assert [(r["resourceType"], r.get("id"), invalid_reason(r)) for r in resources if invalid_reason(r)] == []

    orders = [r for r in resources if r["resourceType"] == "ServiceRequest"]
    documents = [r for r in resources if r["resourceType"] == "DocumentReference"]
    patient = next((r for r in resources if r["resourceType"] == "Patient"), {"id": "example"})
    encounter = next((r for r in resources if r["resourceType"] == "Encounter"), {"id": "example"})
    context = {"userId": "Practitioner/example", "patientId": patient.get("id", "example"),
               "encounterId": encounter.get("id", "example")}
    prefetch = KeyResult("examples", Outcome.PROVIDED, resources)

    for service_id, extra, context_resources in (
        ("procedure-coding-encounter-discharge", {}, []),
        ("procedure-coding-order-sign", {"draftOrders": {"resourceType": "Bundle", "type": "collection",
                                                         "entry": [{"resource": r} for r in orders]}}, orders),
        ("procedure-coding-note-sign", {"note": documents[0]} if documents else {}, documents[:1]),
    ):
        service = SERVICES_BY_ID[service_id]
        call = {"hook": service.hook, "hookInstance": "example", "context": {**context, **extra}}
        data = ClinicalData(results={"examples": prefetch}, context_resources=list(context_resources))
        assert data.skipped == []
        kept = sum(len(data.of_type(t)) for t in READ_TYPES)
        given = [*resources, *context_resources]
        # One copy per (type, id); resources without an id cannot be told apart and are all kept.
        assert kept == len({(r["resourceType"], r["id"]) for r in given if "id" in r}) + sum(
            "id" not in r for r in given
        )

        evidence = collect_evidence(service.evidence, call["context"], data)
        assert evidence.problems == [] or all(isinstance(p, str) for p in evidence.problems)
        cards = engine().cards(service, call, data)
        assert response_problems({"cards": cards}) == []
