"""The playground's HTTP side: where it is served, the scenario endpoints and the page's security headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from cds_service.app import create_app
from cds_service.config import PRODUCTION, Settings
from cds_service.playground import DEFAULT_SCENARIOS


@pytest.fixture
def es_issuer_file(tmp_path) -> Path:
    """Production needs a trusted issuer to start: one with a freshly generated key."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "ES384", "use": "sig"}
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps({"issuers": [{"iss": "https://ehr.test.example", "jwks": {"keys": [jwk]}}]}))
    return path


def order_sign_request() -> dict:
    return {"hookInstance": "x", "hook": "order-sign", "context": {"userId": "Practitioner/1", "patientId": "p1"}}


@pytest.fixture
def scenarios(tmp_path, app) -> Path:
    folder = tmp_path / "requests"
    folder.mkdir()
    (folder / "thoracentesis-us-guided.note-sign.json").write_text(
        json.dumps({"hookInstance": "x", "hook": "org.procedure-coding.note-sign", "context": {}})
    )
    (folder / "pleural-drain.order-sign.json").write_text(json.dumps(order_sign_request()))
    (folder / "broken.order-sign.json").write_text("{not json")
    (folder / "not-a-call.json").write_text(json.dumps([1, 2]))
    (folder / "notes.txt").write_text("ignored")
    app.config["PLAYGROUND_SCENARIOS"] = folder
    return folder


def test_page_is_served_in_development_with_a_strict_content_security_policy(client):
    response = client.get("/playground")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = response.get_data(as_text=True)
    # Every service is offered, by id and hook.
    for service_id in ("procedure-coding-order-select", "procedure-coding-order-sign",
                       "procedure-coding-note-sign", "procedure-coding-encounter-discharge"):
        assert f'value="{service_id}"' in page


def test_page_and_static_files_reference_nothing_outside_the_service(client):
    page = client.get("/playground").get_data(as_text=True)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "<script>" not in page and " on" + "click=" not in page  # no inline script: the CSP forbids it
    for name in ("playground.js", "cards.js", "markdown.js", "playground.css", "favicon.svg"):
        response = client.get(f"/playground/static/{name}")
        assert response.status_code == 200, name
        text = response.get_data(as_text=True)
        assert not re.search(r"""(import|from|url\()\s*["']?(https?:)?//""", text), name
        assert "@import" not in text, name


def test_production_has_no_playground_unless_enabled(tmp_path, es_issuer_file):
    base = dict(profile=PRODUCTION, sqlite_path=tmp_path / "cds.sqlite3", trusted_issuers_file=es_issuer_file)
    off = create_app(Settings(**base, playground_enabled=False)).test_client()
    assert off.get("/playground").status_code == 404
    assert off.get("/playground/scenarios").status_code == 404
    on = create_app(Settings(**base, playground_enabled=True)).test_client()
    assert on.get("/playground").status_code == 200


def test_production_profile_from_environment_turns_the_playground_off():
    assert Settings.from_env({"CDS_PROFILE": "production"}).playground_enabled is False
    assert Settings.from_env({"CDS_PROFILE": "production", "CDS_PLAYGROUND": "1"}).playground_enabled is True
    assert Settings.from_env({}).playground_enabled is True


def test_scenarios_are_listed_from_the_folder_skipping_broken_files(client, scenarios):
    listed = client.get("/playground/scenarios").get_json()["scenarios"]
    assert listed == [
        {
            "name": "pleural-drain.order-sign",
            "title": "Pleural drain",
            "hook": "order-sign",
            "service_id": "procedure-coding-order-sign",
        },
        {
            "name": "thoracentesis-us-guided.note-sign",
            "title": "Thoracentesis US guided",
            "hook": "org.procedure-coding.note-sign",
            "service_id": "procedure-coding-note-sign",
        },
    ]


def test_a_scenario_is_served_as_its_hook_request(client, scenarios):
    response = client.get("/playground/scenarios/pleural-drain.order-sign")
    assert response.status_code == 200
    assert response.get_json() == order_sign_request()


@pytest.mark.parametrize(
    "name", ["nope", "broken.order-sign", "..%2Fsecrets", "..", ".hidden", "pleural-drain.order-sign.json"]
)
def test_unknown_or_unsafe_scenario_names_are_404_outcomes(client, scenarios, name):
    (scenarios.parent / "secrets.json").write_text(json.dumps(order_sign_request()))
    response = client.get(f"/playground/scenarios/{name}")
    assert response.status_code == 404
    assert response.get_json(force=True)["resourceType"] == "OperationOutcome"


def test_missing_scenario_folder_lists_nothing(client, app, tmp_path):
    app.config["PLAYGROUND_SCENARIOS"] = tmp_path / "absent"
    assert client.get("/playground/scenarios").get_json() == {"scenarios": []}


def test_default_scenario_folder_is_the_projects_fixtures():
    assert DEFAULT_SCENARIOS == Path(__file__).resolve().parents[2] / "fhir_fixtures" / "requests"
