"""End to end: the real service under gunicorn fetches what was not prefetched from a real FHIR server."""

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


@pytest.fixture(scope="module")
def loaded_fhir(fhir_server):
    fhir_server.load(load_fixture("fhir/encounter-e-thoracentesis.bundle.json"))
    return fhir_server


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with start_service({"CDS_SQLITE_PATH": str(tmp_path_factory.mktemp("db") / "cds.sqlite3")}) as running:
        yield running


def discharge_call(fhir_base: str | None, **extra) -> dict:
    return calls.discharge_call(
        fhir_base, "opaque-test-token", patient_id="pt-thora-1", encounter_id="enc-thora-1",
        user_id="Practitioner/dr-a", **extra,
    )


def test_missing_prefetch_is_fetched_and_coded(service, loaded_fhir):
    response = requests.post(service.base_url + DISCHARGE, json=discharge_call(loaded_fhir.base_url), timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert response_problems(body) == []
    coded = [c for c in body["cards"] if "cpt-coding.suggestion" in c.get("extension", {})]
    assert len(coded) == 1
    suggestion = coded[0]["extension"]["cpt-coding.suggestion"]
    assert suggestion["subject"] == "Procedure/proc-thora-1"
    # The ultrasound study (fetched, linked by procedureReference) makes it the with-imaging code, left side.
    assert suggestion["lines"] == [{"code": "32555", "modifiers": ["LT"], "units": 1}]
    # The volume Observation and the J90 Condition were fetched too: no volume or indication gap.
    gaps = suggestion.get("documentationGaps", [])
    assert "fluid-volume" not in gaps and "indication" not in gaps
    assert "ImagingStudy/img-thora-1" in coded[0]["detail"].replace("\\", "")  # Markdown-escaped


def test_partial_prefetch_is_completed_from_the_server(service, loaded_fhir):
    # The client prefetched the procedure but not the imaging: the study must still be found.
    procedure = next(
        e["resource"] for e in load_fixture("fhir/encounter-e-thoracentesis.bundle.json")["entry"]
        if e["resource"]["resourceType"] == "Procedure"
    )
    call = discharge_call(
        loaded_fhir.base_url,
        prefetch={"procedures": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": procedure}]}},
    )
    body = requests.post(service.base_url + DISCHARGE, json=call, timeout=10).json()
    lines = [c["extension"]["cpt-coding.suggestion"]["lines"] for c in body["cards"] if "extension" in c]
    assert lines == [[{"code": "32555", "modifiers": ["LT"], "units": 1}]]


def test_no_prefetch_and_no_server_is_412(service):
    response = requests.post(service.base_url + DISCHARGE, json=discharge_call(None), timeout=10)
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unreachable_server_is_412_within_the_budget(service):
    started = time.monotonic()
    call = discharge_call(f"http://127.0.0.1:{free_port()}/fhir")
    response = requests.post(service.base_url + DISCHARGE, json=call, timeout=10)
    assert response.status_code == 412
    assert time.monotonic() - started < 3.0
