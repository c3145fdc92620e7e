"""A misbehaving FHIR server on the fetch path: every fault ends within the time budget, never in a 500.

The FHIR server is pytest-httpserver on loopback. Each fault is tried twice:
- on a required key (`procedures`): the call ends in 412 naming the key, and the payload the faulty server did
  deliver (a thoracentesis Procedure) is never coded;
- on an optional key (`conditions`): the call answers cards that name the unread key, and nothing the faulty
  server delivered (an ICD-10-CM code that a healthy read does put on the card) shows up in the answer.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.protocol.response_check import response_problems
from tests.infra.service import free_port

BUDGET = 1.0  # settings.fhir_time_budget for these tests
REQUEST_TIMEOUT = 0.4
MAX_BYTES = 64 * 1024
# Scheduling slack on a busy 2-core machine: the service itself stops reading at the deadline.
MARGIN = 0.8
DISCHARGE = "/cds-services/procedure-coding-encounter-discharge"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
# Only the faulty server knows this diagnosis: it may appear in an answer only when a read succeeded.
FAULTY_ONLY_DIAGNOSIS = "J91.8"

PROCEDURE = {
    "resourceType": "Procedure",
    "id": "thora-1",
    "status": "completed",
    "code": {"coding": [{"system": SNOMED, "code": "91602002", "display": "Thoracentesis"}]},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
    "performedDateTime": "2024-03-01T10:00:00Z",
}
CONDITION = {
    "resourceType": "Condition",
    "id": "effusion-1",
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                   "code": "active"}]},
    "code": {"coding": [{"system": ICD10CM, "code": FAULTY_ONLY_DIAGNOSIS, "display": "Other pleural effusion"}]},
    "subject": {"reference": "Patient/p1"},
    "encounter": {"reference": "Encounter/e1"},
}


def bundle(*resources: dict, next_url: str | None = None) -> dict:
    found = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}
    if next_url:
        found["link"] = [{"relation": "next", "url": next_url}]
    return found


def fhir_json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/fhir+json")


# Each fault: (name, handler factory). The factory gets the resource the key would hold and the server's base URL.
def _timeout(resource: dict, base: str) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        time.sleep(BUDGET + 0.5)  # past the per-request timeout and the budget
        return fhir_json(bundle(resource))

    return handler


def _status(code: int) -> Callable:
    def factory(resource: dict, base: str) -> Callable[[Request], Response]:
        outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}
        return lambda request: fhir_json(outcome, code)

    return factory


def _malformed(resource: dict, base: str) -> Callable[[Request], Response]:
    text = json.dumps(bundle(resource))
    return lambda request: Response(text[: len(text) // 2], content_type="application/fhir+json")


def _html(status: int) -> Callable:
    def factory(resource: dict, base: str) -> Callable[[Request], Response]:
        page = "<!DOCTYPE html><html><body><h1>Service Unavailable</h1><p>Try again later.</p></body></html>"
        return lambda request: Response(page, status=status, content_type="text/html; charset=utf-8")

    return factory


def _huge(declared_length: bool) -> Callable:
    def factory(resource: dict, base: str) -> Callable[[Request], Response]:
        # The wanted resource first, then padding past the size cap.
        padding = [{"resourceType": "Basic", "id": f"pad{i}", "text": {"div": "x" * 1000}} for i in range(120)]
        text = json.dumps(bundle(resource, *padding)).encode()
        assert len(text) > MAX_BYTES

        def handler(request: Request) -> Response:
            if declared_length:
                return Response(text, content_type="application/fhir+json")

            def chunks() -> Iterator[bytes]:  # no Content-Length: only counting the bytes can catch it
                for start in range(0, len(text), 8192):
                    yield text[start:start + 8192]

            return Response(chunks(), content_type="application/fhir+json")

        return handler

    return factory


def _next_loop(resource: dict, base: str) -> Callable[[Request], Response]:
    # Page 1 holds the resource; its next link is page 2, whose next link is page 1 again.
    def handler(request: Request) -> Response:
        page = request.args.get("page", "1")
        other = "2" if page == "1" else "1"
        url = f"{base}{request.path.removeprefix('/fhir/')}?patient=p1&page={other}"
        return fhir_json(bundle(resource, next_url=url) if page == "1" else bundle(next_url=url))

    return handler


def _slow_drip(resource: dict, base: str) -> Callable[[Request], Response]:
    text = json.dumps(bundle(resource)).encode()

    def handler(request: Request) -> Response:
        def drip() -> Iterator[bytes]:
            # Each piece arrives well within the per-request timeout; the whole takes far past the budget.
            for start in range(0, len(text), 16):
                time.sleep(0.15)
                yield text[start:start + 16]

        return Response(drip(), content_type="application/fhir+json")

    return handler


def _not_a_bundle(resource: dict, base: str) -> Callable[[Request], Response]:
    return lambda request: fhir_json(resource)  # a search answered with a bare resource


FAULTS = {
    "timeout": _timeout,
    "500": _status(500),
    "503": _status(503),
    "401": _status(401),
    "403": _status(403),
    "malformed-json": _malformed,
    "html-200": _html(200),
    "html-502": _html(502),
    "huge-bundle": _huge(declared_length=True),
    "huge-bundle-chunked": _huge(declared_length=False),
    "next-link-loop": _next_loop,
    "slow-drip": _slow_drip,
    "not-a-bundle": _not_a_bundle,
}


@pytest.fixture(scope="module")
def fhir() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)  # the service reads keys concurrently
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def fault_client(tmp_path_factory):
    settings = Settings(
        sqlite_path=tmp_path_factory.mktemp("faults") / "cds.sqlite3",
        fhir_time_budget=BUDGET,
        fhir_request_timeout=REQUEST_TIMEOUT,
        fhir_max_response_bytes=MAX_BYTES,
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client()


def discharge_call(fhir_base: str, prefetch: dict) -> dict:
    return {
        "hook": "encounter-discharge",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_base,
        "context": {"userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1"},
        "prefetch": prefetch,
    }


def serve(fhir: HTTPServer, resource_type: str, handler: Callable[[Request], Response]) -> str:
    fhir.clear()
    fhir.expect_request(re.compile(f"^/fhir/{resource_type}$")).respond_with_handler(handler)
    return fhir.url_for("/fhir/")


def timed_post(client, call: dict):
    started = time.monotonic()
    response = client.post(DISCHARGE, json=call)
    return response, time.monotonic() - started


def card_texts(cards: list[dict]) -> str:
    return "\n".join(f"{c.get('summary', '')}\n{c.get('detail', '')}" for c in cards)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_on_required_key_is_412_within_budget(fhir, fault_client, fault):
    base = fhir.url_for("/fhir/")
    base = serve(fhir, "Procedure", FAULTS[fault](PROCEDURE, base))
    prefetch = {"patient": None, "encounter": None, "conditions": None, "imagingStudies": None,
                "observations": None, "documents": None, "coverage": None,
                "medications": None}  # `procedures` absent: fetched

    response, elapsed = timed_post(fault_client, discharge_call(base, prefetch))

    assert elapsed < BUDGET + MARGIN, f"{fault}: took {elapsed:.2f} s"
    assert response.status_code == 412, response.get_data(as_text=True)
    outcome = response.get_json(force=True)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["prefetch.procedures"]
    assert "91602002" not in response.get_data(as_text=True)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_on_optional_key_is_named_on_the_card_within_budget(fhir, fault_client, fault):
    base = fhir.url_for("/fhir/")
    base = serve(fhir, "Condition", FAULTS[fault](CONDITION, base))
    prefetch = {"patient": None, "encounter": None, "procedures": bundle(PROCEDURE), "imagingStudies": None,
                "observations": None, "documents": None, "coverage": None,
                "medications": None}  # `conditions` absent: fetched

    response, elapsed = timed_post(fault_client, discharge_call(base, prefetch))

    assert elapsed < BUDGET + MARGIN, f"{fault}: took {elapsed:.2f} s"
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert response_problems(body) == []
    assert body["cards"], "the thoracentesis must still get a card"
    assert "conditions" in card_texts(body["cards"]), "the card must say the conditions could not be read"
    assert FAULTY_ONLY_DIAGNOSIS not in json.dumps(body), "a diagnosis from an unread search was used"


def test_healthy_server_control(fhir, fault_client):
    """The same calls against a healthy server: the data is read and used (so the fault tests can fail)."""
    base = serve(fhir, "Condition", lambda request: fhir_json(bundle(CONDITION)))
    prefetch = {"patient": None, "encounter": None, "procedures": bundle(PROCEDURE), "imagingStudies": None,
                "observations": None, "documents": None, "coverage": None,
                "medications": None}
    response, _ = timed_post(fault_client, discharge_call(base, prefetch))
    assert response.status_code == 200
    assert FAULTY_ONLY_DIAGNOSIS in json.dumps(response.get_json())

    base = serve(fhir, "Procedure", lambda request: fhir_json(bundle(PROCEDURE)))
    prefetch = {"patient": None, "encounter": None, "conditions": None, "imagingStudies": None,
                "observations": None, "documents": None, "coverage": None,
                "medications": None}
    response, _ = timed_post(fault_client, discharge_call(base, prefetch))
    assert response.status_code == 200
    lines = [line["code"] for card in response.get_json()["cards"]
             for line in card.get("extension", {}).get("cpt-coding.suggestion", {}).get("lines", [])]
    assert lines, "a thoracentesis read from a healthy server is coded"


def test_unreachable_server_is_412_within_budget(fault_client):
    call = discharge_call(f"http://127.0.0.1:{free_port()}/fhir", {"imagingStudies": None})
    response, elapsed = timed_post(fault_client, call)
    assert elapsed < BUDGET + MARGIN
    assert response.status_code == 412
    assert response.get_json(force=True)["issue"][0]["expression"] == ["prefetch.procedures"]
