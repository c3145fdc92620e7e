"""Fixtures for the integration tests (servers started on 127.0.0.1 by the project's own files)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, _REPO_ROOT)

from tests.infra import fhir_server as fhir_infra  # noqa: E402


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[fhir_infra.FhirServer]:
    """A loopback FHIR R4 server (Medplum engine, in-memory), shared by the session.

    Tests load what they need with ``fhir_server.load(...)``; ``fhir_server.reset()`` empties it.
    """
    with fhir_infra.start() as server:
        yield server
