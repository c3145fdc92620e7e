"""Fixtures for the robustness tests: the shared real data and the running service."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]
if str(_REPO_ROOT) not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, str(_REPO_ROOT))

from tests.infra.service import RunningService, free_port, start_service  # noqa: E402

SHARED_DATA = _REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data is not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dead_fhir_server() -> str:
    """A loopback URL where nothing listens: outbound FHIR reads fail fast and never leave the machine."""
    return f"http://127.0.0.1:{free_port()}/fhir"


@pytest.fixture(scope="module")
def running_service(tmp_path_factory) -> Iterator[RunningService]:
    folder = tmp_path_factory.mktemp("service")
    env = {
        "CDS_PROFILE": "development",
        "CDS_AUTH_REQUIRED": "false",
        "CDS_SQLITE_PATH": str(folder / "cds.sqlite3"),
        "CDS_FHIR_BUDGET": "0.5",
        "CDS_FHIR_TIMEOUT": "0.3",
        "WEB_CONCURRENCY": "2",
    }
    with start_service(env=env, workers=2, log_dir=folder) as service:
        yield service
