"""Shared fixtures: an app built from test settings, its client, and fixture loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fhir_fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"


def load_fixture(relative: str) -> dict:
    return json.loads((FIXTURES / relative).read_text(encoding="utf-8"))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(sqlite_path=tmp_path / "cds.sqlite3", fhir_time_budget=2.0, fhir_request_timeout=1.0)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()
