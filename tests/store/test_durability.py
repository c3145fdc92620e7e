"""Durability against the real gunicorn service: concurrent feedback, and workers killed mid-stream.

Acknowledged (200) feedback must be in the store afterwards, exactly once. These tests start gunicorn on a
loopback port with the project's own configuration and then read the store directly.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from cds_service.config import Settings
from cds_service.store import open_store
from tests.infra.service import RunningService, start_service

pytestmark = pytest.mark.integration

SERVICE = "procedure-coding-order-sign"
THREADS = 8
POSTS_PER_THREAD = 500


def service_env(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url,
        "CDS_SQLITE_PATH": str(settings.sqlite_path),
        "CDS_PROFILE": "development",
        "GUNICORN_THREADS": "4",
    }


def feedback(card: str) -> dict:
    return {"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}],
            "outcomeTimestamp": "2025-03-01T10:00:00Z"}


def stored_cards(settings: Settings) -> list[str]:
    store = open_store(settings)
    try:
        return [item.card for item in store.feedback_log()]
    finally:
        store.close()


def test_concurrent_feedback_loses_nothing_and_duplicates_nothing(backend_settings, tmp_path: Path):
    """8 threads x 500 posts; every fifth card is posted by all 8 threads, racing on the same key."""
    url_path = f"/cds-services/{SERVICE}/feedback"

    def card_for(thread: int, post: int) -> str:
        return f"shared-{post}" if post % 5 == 0 else f"t{thread}-{post}"

    def poster(service: RunningService, thread: int) -> tuple[int, int]:
        # http.client rather than requests: the client shares the 2 cores with the service under test.
        acknowledged_new, failures = 0, 0
        connection = http.client.HTTPConnection(*service.base_url.removeprefix("http://").split(":"), timeout=30)
        try:
            for post in range(POSTS_PER_THREAD):
                body = json.dumps({"feedback": [feedback(card_for(thread, post))]})
                connection.request("POST", url_path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                if response.status != 200:
                    failures += 1
                    continue
                answer = json.loads(answer)
                acknowledged_new += answer["received"] - answer["duplicates"]
        finally:
            connection.close()
        return acknowledged_new, failures

    started = time.monotonic()
    with start_service(env=service_env(backend_settings), workers=2, log_dir=tmp_path) as service:
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda t: poster(service, t), range(THREADS)))
        log_text = service.log_text()
    elapsed = time.monotonic() - started

    expected = {card_for(t, p) for t in range(THREADS) for p in range(POSTS_PER_THREAD)}
    assert sum(failures for _, failures in results) == 0, log_text[-3000:]
    # Each distinct card was reported as newly stored by exactly one of the racing posts.
    assert sum(new for new, _ in results) == len(expected) == THREADS * 400 + 100
    cards = stored_cards(backend_settings)
    assert len(cards) == len(set(cards)), "a feedback item was stored twice"
    assert set(cards) == expected
    print(f"{backend_settings.database_url and 'postgresql' or 'sqlite'}: "
          f"{THREADS * POSTS_PER_THREAD} posts in {elapsed:.1f} s (including start-up)")


def test_a_worker_killed_mid_stream_loses_no_acknowledged_feedback(backend_settings, tmp_path: Path):
    url_path = f"/cds-services/{SERVICE}/feedback"
    acknowledged: list[str] = []
    unanswered = 0
    lock = threading.Lock()
    stop = threading.Event()

    def poster(service: RunningService, thread: int) -> None:
        nonlocal unanswered
        session = requests.Session()
        batch = 0
        while not stop.is_set():
            cards = [f"t{thread}-b{batch}-{i}" for i in range(5)]
            batch += 1
            try:
                response = session.post(service.base_url + url_path,
                                        json={"feedback": [feedback(card) for card in cards]}, timeout=10)
            except requests.RequestException:
                # The worker died with the request in flight: the outcome is unknown, and that is allowed.
                with lock:
                    unanswered += 1
                session.close()
                session = requests.Session()
                continue
            if response.status_code == 200:
                with lock:
                    acknowledged.extend(cards)
            else:
                with lock:
                    unanswered += 1
        session.close()

    def wait_for_acks(count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                if len(acknowledged) >= count:
                    return
            time.sleep(0.01)
        raise AssertionError(f"only {len(acknowledged)} acknowledged, expected {count}")

    with start_service(env=service_env(backend_settings), workers=2, log_dir=tmp_path) as service:
        threads = [threading.Thread(target=poster, args=(service, t)) for t in range(4)]
        for thread in threads:
            thread.start()
        try:
            killed = []
            for round_ in range(2):
                wait_for_acks((round_ + 1) * 500)
                victim = service.worker_pids()[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            wait_for_acks(len(acknowledged) + 500)  # the service goes on with a replacement worker
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        survivors = service.worker_pids()

    assert not set(killed) & set(survivors)
    stored = stored_cards(backend_settings)
    lost = set(acknowledged) - set(stored)
    assert not lost, f"{len(lost)} acknowledged feedback items are missing, e.g. {sorted(lost)[:5]}"
    assert len(stored) == len(set(stored))
    print(f"{len(acknowledged)} items acknowledged, {unanswered} posts cut off by the kills, none lost")
