"""Every FHIR resource the project ships, and every resource our cards suggest, is valid for fhir.resources
(R4B models, which parse these R4 resources); `cds-service validate` reports invalid ones by JSON path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cds_service.cli import main as cli
from cds_service.fhir.models import document_problems, resource_problems, resources_in

from .helpers import post

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "fhir_fixtures").rglob("*.json"))
CORPUS = ROOT / "tests" / "notes" / "corpus"
# Fixtures that are invalid on purpose, with what the models must say about them (and nothing else).
KNOWN_INVALID = {
    "note-bad-base64.note-sign.json": [
        "$.context.note.content[0].attachment.data: Base64 decoding error",
        "$.prefetch.documents.entry[0].resource.content[0].attachment.data: Base64 decoding error",
    ],
}


def _update_resources(body: dict) -> list[dict]:
    return [
        action["resource"] for card in body["cards"] for suggestion in card.get("suggestions", [])
        for action in suggestion["actions"] if action["type"] == "update"
    ]


def _problems_besides_known(name: str, problems: list[str]) -> list[str]:
    expected = KNOWN_INVALID.get(name, [])
    assert all(any(p.startswith(e) for p in problems) for e in expected), (name, problems)
    return [p for p in problems if not any(p.startswith(e) for e in expected)]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "fhir_fixtures")))
def test_every_shipped_fixture_is_valid_fhir(path: Path):
    count, problems = document_problems(json.loads(path.read_text(encoding="utf-8")))
    assert count > 0, f"{path.name}: no FHIR resource found"
    assert _problems_besides_known(path.name, problems) == []


def test_openapi_examples_are_valid_fhir():
    document = json.loads((ROOT / "cds_service" / "openapi.json").read_text(encoding="utf-8"))
    examples = document["paths"]["/cds-services/{id}"]["post"]["requestBody"]["content"]["application/json"]
    for name, example in examples["examples"].items():
        count, problems = document_problems(example["value"])
        assert count > 0 and problems == [], name


def _request_fixtures() -> list[Path]:
    return [p for p in FIXTURES if p.parent.name == "requests"]


def test_every_suggested_resource_is_valid_fhir(client):
    """What the cards put in `update` suggestions (PAMA rating extension included) is valid FHIR."""
    checked = 0
    for path in _request_fixtures():
        call = json.loads(path.read_text(encoding="utf-8"))
        if call["hook"] == "patient-view":
            continue  # covered below with its dates moved into the last 30 days
        for resource in _update_resources(post(client, call)):
            checked += 1
            assert resource_problems(resource, f"{path.name}:update") == []
    assert checked >= 10  # most fixtures carry a procedure without its CPT code


def test_patient_view_suggestions_are_valid_fhir(client):
    from tests.infra.demo import demo_patients

    for patient in demo_patients()[:8]:
        by_type: dict[str, list] = {}
        for resource in patient.resources:
            by_type.setdefault(resource["resourceType"], []).append({"resource": resource})
        prefetch = {key: {"resourceType": "Bundle", "type": "searchset", "entry": by_type.get(rtype, [])}
                    for key, rtype in (("conditions", "Condition"), ("procedures", "Procedure"),
                                       ("imagingStudies", "ImagingStudy"), ("observations", "Observation"),
                                       ("documents", "DocumentReference"), ("encounters", "Encounter"),
                                       ("coverage", "Coverage"))}
        prefetch["patient"] = None
        call = {"hook": "patient-view", "hookInstance": f"v-{patient.patient_id}",
                "context": {"userId": "Practitioner/pr1", "patientId": patient.patient_id}, "prefetch": prefetch}
        for resource in _update_resources(post(client, call)):
            assert resource_problems(resource) == [], patient.scenario
        for path, resource in resources_in(call):
            assert resource_problems(resource, path) == [], patient.scenario


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the labelled note corpus is not in this checkout")
def test_note_corpus_requests_and_their_suggestions_are_valid_fhir():
    from cds_service.commands.eval_notes import SERVICE_ID, build_pipeline
    from cds_service.commands.note_corpus import hook_call, load_corpus
    from cds_service.services import SERVICES_BY_ID

    notes = load_corpus(CORPUS)
    pipeline, _, _ = build_pipeline()
    try:
        for note in notes:
            call = hook_call(note)
            count, problems = document_problems(call)
            assert count > 0 and problems == [], note.path
            for resource in _update_resources(pipeline.answer(SERVICES_BY_ID[SERVICE_ID], call)):
                assert resource_problems(resource) == [], note.path
    finally:
        pipeline.executor.shutdown(wait=False)
    assert len(notes) >= 100


def test_validate_command_reports_invalid_resources_by_path(tmp_path, capsys):
    procedure = {"resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/p1"},
                 "performedDateTime": (datetime.now(UTC) - timedelta(days=1)).isoformat()}
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": procedure}]}))
    bad_procedure = {**procedure, "performedDateTime": "yesterday", "bodySite": [{"coding": [{"code": 7}]}]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "hook": "order-sign", "hookInstance": "x", "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": {"procedures": {"resourceType": "Bundle", "type": "searchset",
                                    "entry": [{"resource": procedure}, {"resource": bad_procedure}]},
                     "patient": {"resourceType": "Nonsense"}},
    }))

    assert cli(["validate", str(good)]) == 0
    assert "good.json: 2 resources valid" in capsys.readouterr().out

    assert cli(["validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "bad.json: $.prefetch.procedures.entry[1].resource.performedDateTime:" in out
    assert "bad.json: $.prefetch.procedures.entry[1].resource.bodySite[0].coding[0].code:" in out
    assert "bad.json: $.prefetch.patient.resourceType: unknown resource type 'Nonsense'" in out
    assert "entry[0]" not in out

    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text('{"hello": 1}')
    assert cli(["validate", str(tmp_path / "broken.json"), str(tmp_path / "other.json")]) == 1
    out = capsys.readouterr().out
    assert "broken.json: not readable JSON" in out and "other.json: no FHIR resource found" in out
