"""The loopback FHIR server answers the reads and searches the CDS service will make."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.infra.fhir_server import FhirServer

pytestmark = pytest.mark.integration

CPT = "http://www.ama-assn.org/go/cpt"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _procedure(pid: str, cpt: str, encounter: str, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": pid,
        "status": "completed",
        "code": {"coding": [{"system": CPT, "code": cpt}]},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "performedDateTime": when,
    }


def _condition(cid: str, icd: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "code": {"coding": [{"system": ICD10, "code": icd}]},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
    }


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "Test", "given": ["Pat"]}]},
    {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
    },
    _condition("c1", "M54.50", "active"),
    _condition("c2", "M51.16", "resolved"),
    _procedure("pr1", "72131", "e1", "2024-01-12"),
    _procedure("pr2", "62323", "e1", "2024-01-12"),
    _procedure("pr3", "72148", "e0", "2023-06-01"),
    {
        "resourceType": "ImagingStudy",
        "id": "is1",
        "status": "available",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}],
        "started": "2024-01-12T09:30:00Z",
    },
]


@pytest.fixture(scope="module")
def fhir(fhir_server: FhirServer) -> FhirServer:
    fhir_server.reset()
    fhir_server.load(RESOURCES)
    return fhir_server


def _search(fhir: FhirServer, query: str) -> dict[str, Any]:
    resp = requests.get(f"{fhir.base_url}/{query}", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/fhir+json")
    bundle: dict[str, Any] = resp.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return bundle


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", [])}


def test_metadata_is_capability_statement(fhir: FhirServer) -> None:
    body = requests.get(f"{fhir.base_url}/metadata", timeout=10).json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"


@pytest.mark.parametrize(
    "query",
    [
        "Procedure?patient=Patient/p1&encounter=Encounter/e1",
        "Procedure?patient=p1&encounter=e1",
        "Procedure?subject=Patient/p1&encounter=e1&status=completed",
        "Procedure?patient=p1&date=ge2024-01-01",
    ],
)
def test_procedures_of_encounter(fhir: FhirServer, query: str) -> None:
    bundle = _search(fhir, query)
    assert _ids(bundle) == {"pr1", "pr2"}
    assert bundle["total"] == 2
    assert all(e["fullUrl"].startswith(f"{fhir.base_url}/Procedure/") for e in bundle["entry"])


def test_condition_searches(fhir: FhirServer) -> None:
    assert _ids(_search(fhir, "Condition?patient=p1")) == {"c1", "c2"}
    assert _ids(_search(fhir, "Condition?patient=p1&clinical-status=active")) == {"c1"}
    assert _ids(_search(fhir, f"Condition?patient=p1&code={ICD10}|M54.50")) == {"c1"}


def test_other_searches(fhir: FhirServer) -> None:
    assert _ids(_search(fhir, "Procedure?patient=p1&date=lt2024-01-01")) == {"pr3"}
    assert _ids(_search(fhir, f"Procedure?code={CPT}|72131")) == {"pr1"}
    assert _ids(_search(fhir, "ImagingStudy?patient=p1&encounter=e1")) == {"is1"}
    assert _ids(_search(fhir, "Encounter?patient=p1")) == {"e1"}
    assert _ids(_search(fhir, "Procedure?patient=p2")) == set()


def test_paging_follows_next_links(fhir: FhirServer) -> None:
    url: str | None = f"{fhir.base_url}/Procedure?patient=p1&_count=1"
    seen: list[str] = []
    while url:
        assert url.startswith(fhir.base_url)
        bundle = requests.get(url, timeout=10).json()
        assert bundle["total"] == 3 and len(bundle["entry"]) == 1
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
        assert len(seen) <= 3, "next links do not end"
    assert sorted(seen) == ["pr1", "pr2", "pr3"]


def test_post_search_with_form_body(fhir: FhirServer) -> None:
    resp = requests.post(
        f"{fhir.base_url}/Procedure/_search",
        data=urlencode({"patient": "Patient/p1", "encounter": "Encounter/e1", "_count": "1"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    bundle = resp.json()
    assert bundle["total"] == 2 and len(bundle["entry"]) == 1
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    assert _ids(bundle) | _ids(requests.get(next_url, timeout=10).json()) == {"pr1", "pr2"}


def test_read_by_id_and_unknown_id(fhir: FhirServer) -> None:
    resp = requests.get(f"{fhir.base_url}/Procedure/pr1", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/fhir+json")
    assert resp.json()["code"]["coding"][0]["code"] == "72131"

    missing = requests.get(f"{fhir.base_url}/Procedure/does-not-exist", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_unknown_search_parameter_is_rejected(fhir: FhirServer) -> None:
    resp = requests.get(f"{fhir.base_url}/Procedure?patient=p1&no-such-param=1", timeout=10)
    assert resp.status_code == 400
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_transaction_bundle_resolves_urn_references(fhir: FhirServer) -> None:
    urn = "urn:uuid:6f1c1b0e-3a59-4a4e-9f4e-2a6f4f3e0c11"
    stored = fhir.load(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": urn,
                    "resource": {"resourceType": "Patient", "name": [{"family": "Other"}]},
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "resource": {**_procedure("tx1", "77003", "e9", "2024-02-01"), "subject": {"reference": urn}},
                    "request": {"method": "PUT", "url": "Procedure/tx1"},
                },
            ],
        }
    )
    patient_id = stored[0]["id"]
    assert _ids(_search(fhir, f"Procedure?patient={patient_id}")) == {"tx1"}
