"""The audit writer (store/audit.py) on both backends: group commit, back-pressure, drain on close and SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from cds_service.config import Settings
from cds_service.store import open_store
from cds_service.store.audit import AuditWriter
from cds_service.store.records import CallRecord, CardRecord, SuggestedLine
from tests.calls import order_sign_call
from tests.infra.service import start_service

SERVICE = "procedure-coding-order-sign"


def record(n: int) -> CallRecord:
    card = CardRecord(uuid=f"card-{n}", subject="Procedure/p1", rule="family/rule", lines=(SuggestedLine("10000"),))
    return CallRecord(hook_instance=f"hook-{n}", service_id=SERVICE, hook="order-sign",
                      called_at=datetime.now(UTC), card_count=1, cards=(card,))


def audited(settings: Settings) -> set[str]:
    """hookInstances in the audit trail, read by a separate connection (what another process would see)."""
    store = open_store(settings)
    try:
        with store._transaction(write=False) as cur:
            cur.execute("SELECT hook_instance FROM hook_calls")
            return {row[0] for row in cur.fetchall()}
    finally:
        store.close()


class CountingStore:
    """Wraps a real store and counts the batches the writer commits."""

    def __init__(self, store):
        self.store = store
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def record_calls(self, calls) -> None:
        self.gate.wait(10)
        self.batches.append(len(calls))
        self.store.record_calls(calls)


def test_calls_from_many_threads_are_committed_in_batches(store, backend_settings):
    counting = CountingStore(store)
    writer = AuditWriter(counting, batch_window=0.5)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer.submit, [record(n) for n in range(80)]))
    assert writer.flush(10)
    assert audited(backend_settings) == {f"hook-{n}" for n in range(80)}
    assert sum(counting.batches) == 80
    assert len(counting.batches) < 40, counting.batches  # group commit: far fewer commits than calls
    writer.close()


def test_a_full_queue_makes_callers_wait_then_drops_and_logs(store, backend_settings, caplog):
    counting = CountingStore(store)
    counting.gate.clear()  # the database "hangs": the writer holds one batch, the queue fills up
    writer = AuditWriter(counting, batch_window=0.0, max_batch=1, max_queue=3, submit_wait=0.05)
    writer.submit(record(0))
    deadline = time.monotonic() + 5
    while writer._queue.qsize() and time.monotonic() < deadline:  # the writer has taken record 0
        time.sleep(0.005)
    with caplog.at_level(logging.ERROR, logger="cds_service"):
        started = time.monotonic()
        for n in range(1, 7):
            writer.submit(record(n))
        waited = time.monotonic() - started
    assert writer._queue.qsize() == 3  # bounded: never more than max_queue records held
    dropped = [r for r in caplog.records if getattr(r, "error", None) == "audit queue full"]
    assert [r.hookInstance for r in dropped] == ["hook-4", "hook-5", "hook-6"]
    assert waited >= 3 * 0.05  # back-pressure: each dropped record made its caller wait submit_wait first
    counting.gate.set()
    assert writer.flush(10)
    assert audited(backend_settings) == {f"hook-{n}" for n in range(4)}
    writer.close()


def test_close_writes_everything_queued_without_waiting_out_the_window(store, backend_settings):
    writer = AuditWriter(store, batch_window=30.0, max_batch=4)  # several batches still queued at close
    for n in range(25):
        writer.submit(record(n))
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 10
    assert audited(backend_settings) == {f"hook-{n}" for n in range(25)}
    writer.submit(record(99))  # after close: written directly, not lost
    assert "hook-99" in audited(backend_settings)


@pytest.mark.integration
def test_sigterm_drains_the_queue_of_every_worker(backend_settings, tmp_path: Path):
    """A 60 s batch window keeps every record queued; SIGTERM must still leave all of them in the store."""
    env = {"DATABASE_URL": backend_settings.database_url, "CDS_SQLITE_PATH": str(backend_settings.sqlite_path),
           "CDS_PROFILE": "development", "CDS_PLAYGROUND": "0", "CDS_AUDIT_BATCH_MS": "60000"}
    calls = [order_sign_call() for _ in range(30)]
    with start_service(env=env, workers=2, log_dir=tmp_path) as service:
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(
                lambda call: requests.post(f"{service.base_url}/cds-services/{SERVICE}", json=call, timeout=10)
                .status_code, calls))
        assert statuses == [200] * len(calls)
        assert not audited(backend_settings) & {c["hookInstance"] for c in calls}  # still queued
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=20) == 0, service.log_text()[-3000:]
    assert {c["hookInstance"] for c in calls} <= audited(backend_settings), service.log_text()[-3000:]


def test_a_retried_hook_call_keeps_its_first_record(store):
    """The same hookInstance answered twice (a retry, maybe by another instance) with new card uuids."""
    first, retry = record(1), record(2)
    retry = CallRecord(hook_instance=first.hook_instance, service_id=SERVICE, hook="order-sign",
                       called_at=retry.called_at, card_count=1, cards=retry.cards)
    store.record_calls([first, retry])
    store.record_calls([retry])
    [row] = store.report()
    assert row.issued == 1


@pytest.mark.integration
def test_a_worker_replaced_after_its_request_quota_loses_no_record(backend_settings, tmp_path: Path):
    """GUNICORN_MAX_REQUESTS recycles workers (spaCy's string store only grows): every call is still answered and
    every record, queued for a 60 s batch window when its worker is replaced, is in the store."""
    env = {"DATABASE_URL": backend_settings.database_url, "CDS_SQLITE_PATH": str(backend_settings.sqlite_path),
           "CDS_PROFILE": "development", "CDS_PLAYGROUND": "0", "CDS_AUDIT_BATCH_MS": "60000",
           "GUNICORN_MAX_REQUESTS": "10"}
    calls = [order_sign_call() for _ in range(40)]
    with start_service(env=env, workers=1, log_dir=tmp_path) as service:
        first = set(service.worker_pids())
        statuses = []
        for call in calls:  # one at a time: a call to a worker on its way out would be retried by no one
            statuses.append(_post_retrying(service.base_url, call))
        assert statuses == [200] * len(calls)
        assert set(service.worker_pids()) - first, "no worker was replaced"
        assert {c["hookInstance"] for c in calls[:10]} <= audited(backend_settings), service.log_text()[-3000:]
    assert {c["hookInstance"] for c in calls} <= audited(backend_settings), service.log_text()[-3000:]


def _post_retrying(base_url: str, call: dict) -> int:
    """A client's retry on a refused connection: between one worker's exit and the next one's start."""
    for _ in range(50):
        try:
            return requests.post(f"{base_url}/cds-services/{SERVICE}", json=call, timeout=10).status_code
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("the service stopped answering")
