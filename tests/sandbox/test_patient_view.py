"""patient-view: the coding status of the patient's procedures of the last 30 days, on opening the chart."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES_BY_ID
from tests.infra.demo import days_to_yesterday, shift_dates

from .conftest import SANDBOX_ORIGIN, sandbox_call

PATIENT_VIEW = "/cds-services/procedure-coding-patient-view"
CPT = "http://www.ama-assn.org/go/cpt"
BUNDLE = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "fhir" / "encounter-e-thoracentesis.bundle.json"


def encounter_resources(days_ago: int) -> list[dict]:
    """A fully documented US-guided left thoracentesis (expected 32555-LT, no billing gap), `days_ago` days ago."""
    resources = [entry["resource"] for entry in json.loads(BUNDLE.read_text())["entry"]]
    shift = days_to_yesterday(resources) - (days_ago - 1)
    return [shift_dates(resource, shift) for resource in resources]


def searchset(resources: list[dict], rtype: str) -> dict:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources if r["resourceType"] == rtype]}


def patient_view_call(resources: list[dict]) -> dict:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    call = sandbox_call("patient-view", patient["id"], "http://127.0.0.1:9/fhir")
    del call["fhirServer"]
    call["prefetch"] = {
        "patient": patient,
        "conditions": searchset(resources, "Condition"),
        "procedures": searchset(resources, "Procedure"),
        "imagingStudies": searchset(resources, "ImagingStudy"),
        "observations": searchset(resources, "Observation"),
        "documents": searchset(resources, "DocumentReference"),
        "encounters": searchset(resources, "Encounter"),
        "coverage": searchset(resources, "Coverage"),
    }
    return call


def procedure_of(resources: list[dict]) -> dict:
    return next(r for r in resources if r["resourceType"] == "Procedure")


def test_discovery_declares_patient_view_with_date_limited_prefetch(client):
    services = {s["id"]: s for s in client.get("/cds-services").get_json()["services"]}
    service = services["procedure-coding-patient-view"]
    assert service["hook"] == "patient-view"
    assert service["prefetch"]["procedures"] == "Procedure?patient={{context.patientId}}&date=ge{{today() - 30 days}}"
    assert "{{context.encounterId}}" not in json.dumps(service["prefetch"])  # the sandbox never sends one
    assert "30 days" in service["description"]


def test_a_recent_procedure_without_its_cpt_code_gets_one_card_with_the_code(client):
    resources = encounter_resources(days_ago=3)

    response = client.post(PATIENT_VIEW, json=patient_view_call(resources), headers={"Origin": SANDBOX_ORIGIN})

    assert response.status_code == 200, response.get_data(as_text=True)
    cards = response.get_json()["cards"]
    assert response_problems({"cards": cards}) == []
    (card,) = cards
    coding = card["extension"]["cpt-coding.suggestion"]
    assert coding["subject"] == f"Procedure/{procedure_of(resources)['id']}"
    assert coding["lines"] == [{"code": "32555", "modifiers": ["LT"], "units": 1}]
    (update,) = [a for a in card["suggestions"][0]["actions"] if a["type"] == "update"]
    assert {"system": CPT, "code": "32555"}.items() <= update["resource"]["code"]["coding"][-1].items()


def test_no_card_when_every_recent_procedure_is_in_order(client):
    resources = encounter_resources(days_ago=3)
    procedure_of(resources)["code"]["coding"].append({"system": CPT, "code": "32555"})

    response = client.post(PATIENT_VIEW, json=patient_view_call(resources))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"cards": []}


def test_an_open_billing_gap_keeps_the_card_even_with_the_code(client):
    """No diagnosis supports the procedure: the indication gap is open, so the card stays."""
    resources = [r for r in encounter_resources(days_ago=3) if r["resourceType"] != "Condition"]
    procedure_of(resources)["code"]["coding"].append({"system": CPT, "code": "32555"})

    (card,) = client.post(PATIENT_VIEW, json=patient_view_call(resources)).get_json()["cards"]

    assert "indication" in card["extension"]["cpt-coding.suggestion"]["documentationGaps"]
    assert card["indicator"] == "warning"
    assert "suggestions" not in card  # the code is right: nothing to update


@pytest.mark.parametrize("days_ago, shown", [(1, True), (29, True), (31, False), (400, False)])
def test_only_procedures_of_the_last_30_days_are_shown(client, days_ago, shown):
    """Even when the client prefetches more than the template asks for, older procedures get no card."""
    resources = encounter_resources(days_ago=days_ago)

    cards = client.post(PATIENT_VIEW, json=patient_view_call(resources)).get_json()["cards"]

    assert bool(cards) is shown


def test_the_service_fetches_the_last_30_days_itself(client, httpserver: HTTPServer):
    """No prefetch (a client that cannot resolve `today()`): the service sends the same date-limited searches."""
    resources = encounter_resources(days_ago=2)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    httpserver.expect_request(f"/fhir/Patient/{patient['id']}").respond_with_json(patient)
    for rtype in ("Condition", "Procedure", "ImagingStudy", "Observation", "DocumentReference", "Encounter",
                  "Coverage"):
        httpserver.expect_request(f"/fhir/{rtype}").respond_with_json(searchset(resources, rtype))
    call = sandbox_call("patient-view", patient["id"], httpserver.url_for("/fhir"))

    response = client.post(PATIENT_VIEW, json=call)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["cards"]) == 1
    seen = {request.path.rsplit("/", 1)[-1]: request.args.to_dict() for request, _ in httpserver.log}
    today = datetime.now(UTC).date()
    assert seen["Procedure"] == {"patient": patient["id"], "date": f"ge{today - timedelta(days=30)}"}
    assert seen["ImagingStudy"] == {"patient": patient["id"], "started": f"ge{today - timedelta(days=31)}"}
    assert seen["Encounter"]["date"] == f"ge{today - timedelta(days=31)}"


def test_procedures_unreadable_is_412(client):
    call = sandbox_call("patient-view", "p1", "http://127.0.0.1:9/fhir")
    del call["fhirServer"]
    response = client.post(PATIENT_VIEW, json=call)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_patient_view_is_declared_as_data():
    service = SERVICES_BY_ID["procedure-coding-patient-view"]
    assert (service.evidence, service.lookback_days, service.only_open) == ("encounter", 30, True)
    assert [s.key for s in service.prefetch if s.required] == ["procedures", "imagingStudies"]


def test_shift_dates_moves_datetimes_and_dates_but_not_birth_dates():
    moved = shift_dates(copy.deepcopy({
        "birthDate": "1950-01-01", "performedDateTime": "2024-03-04T10:00:00-05:00",
        "period": {"start": "2024-03-04T10:00:00Z"}, "note": [{"text": "2024-03-04 is text"}], "date": "2024-03-04",
    }), 2)
    assert moved == {
        "birthDate": "1950-01-01", "performedDateTime": "2024-03-06T10:00:00-05:00",
        "period": {"start": "2024-03-06T10:00:00Z"}, "note": [{"text": "2024-03-04 is text"}], "date": "2024-03-06",
    }


def test_a_scenario_becomes_a_patient_of_its_own_with_its_last_procedure_yesterday():
    from tests.infra.demo import scenario_patient

    call = {
        "hook": "encounter-discharge", "hookInstance": "x",
        "context": {"userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1"},
        "prefetch": {
            "patient": None,
            "procedures": {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Procedure", "id": "a", "status": "completed",
                              "subject": {"reference": "Patient/p1"},
                              "encounter": {"reference": "https://ehr.example/fhir/Encounter/e1"},
                              "performedDateTime": "2024-03-01T10:00:00Z"}},
                {"resource": {"resourceType": "Procedure", "id": "b", "status": "completed",
                              "subject": {"reference": "Patient/p1"}, "performedDateTime": "2024-03-04T10:00:00Z",
                              "partOf": [{"reference": "Procedure/a"}]}},
            ]},
            "encounter": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                          "subject": {"reference": "Patient/p1"}},
        },
    }
    today = datetime(2026, 12, 2, tzinfo=UTC).date()

    patient = scenario_patient("two-procedures.encounter-discharge", call, today=today)

    assert patient.patient_id == "demo-two-procedures"
    by_id = {r["id"]: r for r in patient.resources}
    (proc_a, proc_b) = sorted((r for r in patient.resources if r["resourceType"] == "Procedure"),
                              key=lambda r: r["performedDateTime"])
    assert proc_b["performedDateTime"] == "2026-12-01T10:00:00Z"  # the last procedure: yesterday
    assert proc_a["performedDateTime"] == "2026-11-28T10:00:00Z"  # the others keep their distance
    assert proc_a["subject"] == {"reference": "Patient/demo-two-procedures"}
    assert proc_b["partOf"] == [{"reference": f"Procedure/{proc_a['id']}"}]
    encounter_id = proc_a["encounter"]["reference"].split("/")[1]
    assert by_id[encounter_id]["resourceType"] == "Encounter" and encounter_id != "e1"
    assert by_id["demo-two-procedures"]["name"][0]["given"] == ["Two Procedures"]


@pytest.mark.integration
@pytest.mark.parametrize("days_ago, cards", [(2, 1), (45, 0)])
def test_fetch_mode_against_a_fhir_server_reads_the_last_30_days(client, fhir, days_ago, cards):
    """No prefetch, as a client that cannot resolve `today()`: the date-limited searches on a real FHIR server
    (Medplum's engine) find the recent procedure and its imaging, and leave an older one out."""
    resources = encounter_resources(days_ago=days_ago)
    fhir.load(resources)
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    response = client.post(PATIENT_VIEW, json=sandbox_call("patient-view", patient["id"], fhir.base_url))

    assert response.status_code == 200, response.get_data(as_text=True)
    found = response.get_json()["cards"]
    assert len(found) == cards
    if cards:
        coding = found[0]["extension"]["cpt-coding.suggestion"]
        assert coding["lines"] == [{"code": "32555", "modifiers": ["LT"], "units": 1}]  # the imaging was found
        assert "documentationGaps" not in coding or "indication" not in coding["documentationGaps"]
