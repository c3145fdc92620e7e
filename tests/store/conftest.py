"""Storage fixtures: every storage test runs against SQLite and against a real loopback PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, _REPO_ROOT)

from cds_service.config import Settings  # noqa: E402
from cds_service.store import Store, open_store  # noqa: E402
from tests.infra import postgres as postgres_infra  # noqa: E402

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres_infra.PostgresCluster]:
    with postgres_infra.running() as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def backend_settings(request, tmp_path) -> Settings:
    """Settings naming a fresh, empty store of each backend (a new SQLite file or a new database)."""
    if request.param == "sqlite":
        return Settings(sqlite_path=tmp_path / "store" / "cds.sqlite3")
    cluster = request.getfixturevalue("postgres_cluster")
    return Settings(database_url=cluster.create_database())


@pytest.fixture
def store(backend_settings) -> Iterator[Store]:
    opened = open_store(backend_settings)
    yield opened
    opened.close()
