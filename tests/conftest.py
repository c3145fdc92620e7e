"""Shared fixtures: an app built from test settings, its client, and fixture loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.config import Settings
from tests.infra import fhir_server as fhir_infra
from tests.infra import postgres as postgres_infra

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


# Servers started once per test session, on 127.0.0.1, by the project's own files.
@pytest.fixture(scope="session")
def fhir_server() -> Iterator[fhir_infra.FhirServer]:
    """A loopback FHIR R4 server (Medplum's engine, in memory). Load with .load(), empty with .reset()."""
    with fhir_infra.start() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres_infra.PostgresCluster]:
    """A throwaway PostgreSQL cluster on loopback; .create_database() gives each user its own database."""
    with postgres_infra.running() as cluster:
        yield cluster
