"""Token replay memory (the store's jti_seen table) on both backends: one winner per (iss, jti), even among
racing processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cds_service.config import Settings
from cds_service.store import StoreUnavailable, open_store

from .kit import BASE, ISS, ORDER_SIGN, assert_outcome, bearer, mint, order_sign_call


@dataclass(frozen=True)
class StoreFactory:
    """Makes a fresh store object on one shared backing database, as each worker would (picklable)."""

    kind: str
    location: str

    def __call__(self):
        if self.kind == "sqlite":
            return open_store(Settings(sqlite_path=Path(self.location)))
        return open_store(Settings(database_url=self.location))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_factory(request, tmp_path) -> StoreFactory:
    if request.param == "sqlite":
        return StoreFactory("sqlite", str(tmp_path / "cds.sqlite3"))
    return StoreFactory("postgresql", request.getfixturevalue("postgres_cluster").create_database())


def test_second_use_is_refused_and_issuers_are_separate(store_factory):
    store = store_factory()
    later = time.time() + 300
    assert store.first_use(ISS, "jti-1", later)
    assert not store.first_use(ISS, "jti-1", later)
    assert not store_factory().first_use(ISS, "jti-1", later)  # another worker's store object
    assert store.first_use("https://other.example", "jti-1", later)


def test_a_jti_whose_token_expired_may_come_back(store_factory):
    store = store_factory()
    assert store.first_use(ISS, "jti-2", time.time() - 1)
    assert store.first_use(ISS, "jti-2", time.time() + 300)
    assert not store.first_use(ISS, "jti-2", time.time() + 300)


def _race(factory, jtis: list[str], results) -> None:
    store = factory()
    for jti in jtis:
        results.put((jti, store.first_use(ISS, jti, time.time() + 300)))


def test_racing_processes_get_one_winner_per_jti(store_factory):
    # spawn, not fork: forking a process that runs server threads (pytest-httpserver) can deadlock the child.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    jtis = [f"race-{i}" for i in range(25)]
    workers = [context.Process(target=_race, args=(store_factory, jtis, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in range(len(jtis) * len(workers))]
    for worker in workers:
        worker.join(timeout=30)
    winners = {jti: sum(1 for j, won in outcomes if j == jti and won) for jti in jtis}
    assert set(winners.values()) == {1}


def test_expired_rows_are_purged(tmp_path):
    store = open_store(Settings(sqlite_path=tmp_path / "cds.sqlite3"))
    for i in range(300):
        store.first_use(ISS, f"old-{i}", time.time() - 10)
    remaining = sqlite3.connect(tmp_path / "cds.sqlite3").execute("SELECT count(*) FROM jti_seen").fetchone()[0]
    assert remaining < 300


def test_unreachable_replay_store_fails_closed_with_503(make_app, issuer_entry, es384_key):
    app = make_app([issuer_entry])

    def unavailable(iss, jti, expires_at):
        raise StoreUnavailable("postgresql: OperationalError")

    app.extensions["cds_store"].first_use = unavailable
    token = mint(es384_key, aud=BASE + ORDER_SIGN)
    body = assert_outcome(app.test_client().post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)), 503)
    assert "temporarily unavailable" in body["issue"][0]["diagnostics"]


@pytest.mark.postgres
def test_service_on_postgresql_refuses_a_replayed_token(make_app, issuer_entry, es384_key, postgres_cluster):
    client = make_app([issuer_entry], database_url=postgres_cluster.create_database()).test_client()
    token = mint(es384_key, aud=BASE + ORDER_SIGN)
    assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 200
    assert client.post(ORDER_SIGN, json=order_sign_call(), headers=bearer(token)).status_code == 401
