"""The published OpenAPI document matches the real routes and the schemas the service validates with."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "cds_service" / "openapi.json"
SCHEMAS = OPENAPI_FILE.parent / "schemas"
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
# Not part of the API contract: Flask's static files and the development playground (a browser page).
# OPTIONS (CORS preflight) and HEAD are answered on every route by Flask/CORS and are not listed.
UNDOCUMENTED_PREFIXES = ("/static", "/playground")


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))


def _normalise(path: str) -> str:
    """`/cds-services/<service_id>` and `/cds-services/{id}` both become `/cds-services/{}`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def routed_operations(app) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(UNDOCUMENTED_PREFIXES):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operations.add((method.lower(), _normalise(rule.rule)))
    return operations


def documented_operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method, _normalise(path))
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate_openapi(document)
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_route_is_documented_and_every_operation_routed(app, document):
    routed = routed_operations(app)
    documented = documented_operations(document)
    assert routed - documented == set(), "routes missing from cds_service/openapi.json"
    assert documented - routed == set(), "documented operations the app does not route"


def test_service_ids_are_the_declared_services(document):
    ids = {s.id for s in SERVICES}
    for path in ("/cds-services/{id}", "/cds-services/{id}/feedback"):
        (param,) = [p for p in document["paths"][path]["post"]["parameters"] if p["in"] == "path"]
        assert set(param["schema"]["enum"]) == ids, path
    hooks = document["components"]["schemas"]["HookRequest"]["properties"]["hook"]["enum"]
    assert set(hooks) == {s.hook for s in SERVICES}


def _package_schema(name: str) -> dict:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


def _as_components(node):
    """The package schemas' `defs.schema.json` references, written as the document's component references."""
    names = {"id": "FhirId", "bundle": "DraftOrdersBundle"}
    if isinstance(node, dict):
        return {
            key: (f"#/components/schemas/{names[value.rsplit('/', 1)[-1]]}" if key == "$ref" else _as_components(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_as_components(item) for item in node]
    return node


@pytest.mark.parametrize(
    ("component", "schema_file"),
    [
        ("OrderSignContext", "context-order-sign.schema.json"),
        ("OrderSelectContext", "context-order-select.schema.json"),
        ("EncounterDischargeContext", "context-encounter-discharge.schema.json"),
        ("NoteSignContext", "context-note-sign.schema.json"),
        ("PatientViewContext", "context-patient-view.schema.json"),
        ("Feedback", "feedback.schema.json"),
    ],
)
def test_documented_schemas_are_the_validated_schemas(document, component, schema_file):
    assert document["components"]["schemas"][component] == _as_components(_package_schema(schema_file))


def test_documented_envelope_is_the_validated_envelope(document):
    documented = document["components"]["schemas"]["HookRequest"]
    validated = _as_components(_package_schema("hook-request.schema.json"))
    assert documented["required"] == validated["required"]
    assert documented["dependentRequired"] == validated["dependentRequired"]
    assert set(documented["properties"]) == set(validated["properties"])
    # `hook` is narrowed to the hooks served, `context` to the hook contexts and `prefetch` lists the keys the
    # services declare; every other field is identical.
    for name, schema in validated["properties"].items():
        if name == "hook":
            assert {k: v for k, v in documented["properties"][name].items() if k != "enum"} == schema
        elif name == "prefetch":
            prefetch = documented["properties"][name]
            assert {k: v for k, v in prefetch.items() if k not in ("properties", "description")} == schema
            assert set(prefetch["properties"]) == {spec.key for s in SERVICES for spec in s.prefetch}
        elif name != "context":
            assert documented["properties"][name] == schema, name
    defs = json.loads((SCHEMAS / "defs.schema.json").read_text(encoding="utf-8"))["$defs"]
    assert document["components"]["schemas"]["FhirId"] == defs["id"]
    assert document["components"]["schemas"]["DraftOrdersBundle"] == defs["bundle"]


def test_document_is_served_as_kept_in_the_repository(client, document):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == document


def test_request_examples_are_answered(client, document):
    """The documented examples are real calls: valid for the service's schemas and answered with cards."""
    examples = document["paths"]["/cds-services/{id}"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    by_hook = {s.hook: s.id for s in SERVICES if not s.preview}
    assert {e["value"]["hook"] for e in examples.values()} == set(by_hook)
    for name, example in examples.items():
        call = copy.deepcopy(example["value"])
        if call["hook"] == "patient-view":  # it reads the last 30 days: date the example's procedures yesterday
            yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT10:00:00Z")
            for entry in call["prefetch"]["procedures"]["entry"]:
                entry["resource"]["performedDateTime"] = yesterday
        response = client.post(f"/cds-services/{by_hook[call['hook']]}", json=call)
        assert response.status_code == 200, (name, response.get_data(as_text=True))
        cards = response.get_json()["cards"]
        assert response_problems({"cards": cards}) == []
        assert any(card.get("extension", {}).get("cpt-coding.suggestion", {}).get("lines") for card in cards), name
    feedback = document["paths"]["/cds-services/{id}/feedback"]["post"]["requestBody"]["content"]["application/json"]
    for example in feedback["examples"].values():
        response = client.post(f"/cds-services/{SERVICES[0].id}/feedback", json=example["value"])
        assert response.status_code == 200, response.get_data(as_text=True)
