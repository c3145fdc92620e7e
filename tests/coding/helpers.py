"""Helpers for the coding tests: post a fixture to its service and read the suggestion extensions."""

from __future__ import annotations

import json
from pathlib import Path

from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES

REQUESTS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "requests"
EXTENSION = "cpt-coding.suggestion"
SERVICE_FOR_HOOK = {service.hook: service.id for service in SERVICES}


def request(name: str) -> dict:
    return json.loads((REQUESTS / f"{name}.json").read_text(encoding="utf-8"))


def post(client, call: dict) -> dict:
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[call['hook']]}", json=call)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert response_problems(body) == []
    return body


def suggestions(body: dict) -> dict[str, dict]:
    """subject -> (card, extension) for every coding card."""
    found = {}
    for card in body["cards"]:
        ext = card.get("extension", {}).get(EXTENSION)
        if ext is not None:
            assert ext["subject"] not in found, "one card per coded subject"
            found[ext["subject"]] = {"card": card, **ext}
    return found


def labels(ext: dict) -> list[str]:
    return ["-".join([line["code"], *line.get("modifiers", [])]) for line in ext.get("lines", [])]


def assert_expected_cards(found: dict[str, dict], expected: dict) -> None:
    """Exactly the expected subjects get a card, each with its lines, bundled codes, gaps and indicator."""
    assert set(found) == set(expected), "exactly the related subjects get a card"
    for subject, (lines, bundled, gaps, indicator) in expected.items():
        ext = found[subject]
        assert labels(ext) == lines, subject
        assert ext.get("notSeparatelyBillable", []) == bundled, subject
        assert ext.get("documentationGaps", []) == gaps, subject
        assert ext["card"]["indicator"] == indicator, subject
