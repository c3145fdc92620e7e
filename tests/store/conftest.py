"""Storage fixtures: every storage test runs against SQLite and against a real loopback PostgreSQL."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:  # make `tests.infra` importable however pytest was started
    sys.path.insert(0, _REPO_ROOT)

from cds_service.config import Settings  # noqa: E402
from cds_service.store import Store, open_store  # noqa: E402

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def new_backend_settings(request, tmp_path) -> Callable[[], Settings]:
    """Makes Settings naming a fresh, empty store of the backend: a new SQLite file or PostgreSQL schema."""
    counter = itertools.count()
    if request.param == "sqlite":
        return lambda: Settings(sqlite_path=tmp_path / f"store-{next(counter)}" / "cds.sqlite3")
    cluster = request.getfixturevalue("postgres_cluster")
    return lambda: Settings(database_url=cluster.create_schema())


@pytest.fixture
def backend_settings(new_backend_settings) -> Settings:
    return new_backend_settings()


@pytest.fixture
def store(backend_settings) -> Iterator[Store]:
    opened = open_store(backend_settings)
    yield opened
    opened.close()
