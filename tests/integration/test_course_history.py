"""Fetch mode of the day-sequence rule (issue 13): the service reads the patient's earlier Procedures from a
real FHIR server when the encounter's data cannot tell whether a fibrinolytic instillation is the first day
of its course, under the call's time budget, and says so on the card when it cannot."""

from __future__ import annotations

import time

import pytest
import requests

from cds_service.protocol.response_check import response_problems
from tests import calls
from tests.conftest import load_fixture
from tests.infra.service import free_port, start_service

pytestmark = pytest.mark.integration
DISCHARGE = "/cds-services/procedure-coding-encounter-discharge"
BUNDLE = "fhir/fibrinolysis-course.bundle.json"


@pytest.fixture(scope="module")
def loaded_fhir(fhir_server):
    fhir_server.load(load_fixture(BUNDLE))
    return fhir_server


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with start_service({"CDS_SQLITE_PATH": str(tmp_path_factory.mktemp("db") / "cds.sqlite3")}) as running:
        yield running


def coded(service, call: dict) -> dict[str, dict]:
    response = requests.post(service.base_url + DISCHARGE, json=call, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert response_problems(body) == []
    found = {}
    for card in body["cards"]:
        ext = card.get("extension", {}).get("cpt-coding.suggestion")
        if ext:
            found[ext["subject"]] = {"lines": ext.get("lines"), "detail": card["detail"].replace("\\", "")}
    return found


def call_for(base_url: str | None, patient: str, encounter: str, **extra) -> dict:
    return calls.discharge_call(base_url, "opaque-test-token", patient_id=patient, encounter_id=encounter,
                                user_id="Practitioner/dr-a", **extra)


def prefetched(patient: str, encounter: str) -> dict:
    """What a client prefetches for the encounter: its own resources only, none of the earlier encounter."""
    by_type: dict[str, list[dict]] = {}
    for entry in load_fixture(BUNDLE)["entry"]:
        resource = entry["resource"]
        if resource.get("encounter", {}).get("reference") == f"Encounter/{encounter}" or (
                resource["resourceType"] == "DocumentReference"
                and resource["context"]["encounter"][0]["reference"] == f"Encounter/{encounter}"):
            by_type.setdefault(resource["resourceType"], []).append(resource)

    def bundle(rtype: str) -> dict | None:
        found = by_type.get(rtype)
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]} if found \
            else None

    return {"patient": None, "encounter": None, "conditions": bundle("Condition"), "procedures": bundle("Procedure"),
            "imagingStudies": None, "observations": None, "documents": bundle("DocumentReference"), "coverage": None}


def test_fetch_mode_finds_the_first_day_in_an_earlier_encounter(service, loaded_fhir):
    found = coded(service, call_for(loaded_fhir.base_url, "pt-fib-1", "enc-fib-1"))
    assert set(found) == {"Procedure/proc-enc-fib-1"}, "the earlier encounter's act is evidence, not coded"
    card = found["Procedure/proc-enc-fib-1"]
    assert card["lines"] == [{"code": "32562", "modifiers": ["RT"], "units": 1}]
    assert "began on 2024-03-01 (Procedure/proc-enc-fib-0)" in card["detail"]
    assert "procedureHistory" not in card["detail"]


def test_fetch_mode_negative_an_old_course_is_not_this_one(service, loaded_fhir):
    found = coded(service, call_for(loaded_fhir.base_url, "pt-fib-2", "enc-fib-2"))
    assert found["Procedure/proc-enc-fib-2"]["lines"] == [{"code": "32561", "modifiers": ["RT"], "units": 1}]
    assert "First day of the course" in found["Procedure/proc-enc-fib-2"]["detail"]


def test_prefetch_mode_reads_only_the_missing_history(service, loaded_fhir):
    call = call_for(loaded_fhir.base_url, "pt-fib-1", "enc-fib-1", prefetch=prefetched("pt-fib-1", "enc-fib-1"))
    found = coded(service, call)
    assert found["Procedure/proc-enc-fib-1"]["lines"] == [{"code": "32562", "modifiers": ["RT"], "units": 1}]
    negative = call_for(loaded_fhir.base_url, "pt-fib-2", "enc-fib-2", prefetch=prefetched("pt-fib-2", "enc-fib-2"))
    assert coded(service, negative)["Procedure/proc-enc-fib-2"]["lines"][0]["code"] == "32561"


def test_unreadable_history_is_named_and_the_call_stays_in_budget(service):
    started = time.monotonic()
    call = call_for(f"http://127.0.0.1:{free_port()}/fhir", "pt-fib-1", "enc-fib-1",
                    prefetch=prefetched("pt-fib-1", "enc-fib-1"))
    found = coded(service, call)
    assert time.monotonic() - started < 3.0
    card = found["Procedure/proc-enc-fib-1"]
    assert card["lines"] == [{"code": "32561", "modifiers": ["RT"], "units": 1}]
    assert "procedureHistory: earlier encounters could not be checked" in card["detail"]
