"""Two service instances (separate gunicorn masters) on one PostgreSQL behind a round-robin HAProxy.

One test, one set of servers, the checks of issue 14 point 2 in turn: migrations when both start at once,
a JWT replayed to the other instance, feedback through either instance in one report, a hook call audited
once, and one instance SIGKILLed under load with no acknowledged feedback lost.
"""

from __future__ import annotations

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
from cds_service.store.migrations import POSTGRES
from tests.infra import proxy as proxy_infra
from tests.infra.service import RunningService, free_port, start_service
from tests.trust.kit import ISS, bearer, mint, write_issuers

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
SERVICE = "procedure-coding-order-sign"
CALL_PATH = f"/cds-services/{SERVICE}"
FEEDBACK_PATH = f"{CALL_PATH}/feedback"


def kill_instance(service: RunningService) -> None:
    """SIGKILL the master and its workers at once, as a node failure would."""
    for pid in [*service.worker_pids(), service.process.pid]:
        os.kill(pid, signal.SIGKILL)
    service.process.wait(timeout=10)


def feedback_item(card: str, outcome: str = "accepted") -> dict:
    item = {"card": card, "outcome": outcome, "outcomeTimestamp": "2025-03-01T10:00:00Z"}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": "s-1"}]
    else:
        item["overrideReason"] = {"reason": {"system": "http://example.org/reasons", "code": "not-indicated"}}
    return item


def audited_rows(url: str, hook_instance: str) -> tuple[int, int]:
    store = open_store(Settings(database_url=url))
    try:
        with store._transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM hook_calls WHERE hook_instance = %s", (hook_instance,))
            calls = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM cards WHERE hook_instance = %s", (hook_instance,))
            return calls, cur.fetchone()[0]
    finally:
        store.close()


def test_two_instances_share_one_database_behind_a_proxy(postgres_cluster, es384_key, tmp_path: Path):
    url = postgres_cluster.create_schema()
    proxy_port = free_port()
    public = f"http://127.0.0.1:{proxy_port}"
    issuers = write_issuers(tmp_path / "issuers.json", [{"iss": ISS, "jwks": {"keys": [es384_key.public_jwk]}}])
    env = {"CDS_PROFILE": "production", "DATABASE_URL": url, "CDS_TRUSTED_ISSUERS": str(issuers),
           "CDS_PUBLIC_BASE_URL": public, "GUNICORN_THREADS": "4"}

    def token(path: str) -> dict:
        return bearer(mint(es384_key, aud=public + path))

    # 1. Both instances start at the same moment on an empty schema: the advisory lock lets one migrate.
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_service, env=env, workers=2, log_dir=tmp_path) for _ in range(2)]
        first, second = [future.result() for future in starting]
    try:
        store = open_store(Settings(database_url=url))
        assert store.schema_versions() == [m.version for m in POSTGRES]
        store.close()
        with proxy_infra.running([first.base_url, second.base_url], port=proxy_port) as proxy:
            run_checks(first, second, proxy, url, token)
    finally:
        for service in (first, second):
            service.stop()


def run_checks(first: RunningService, second: RunningService, proxy, url: str, token) -> None:
    session = requests.Session()

    # 2. A JWT accepted by one instance is refused by the other: the jti memory is the shared database.
    call = json.loads((ROOT / "fhir_fixtures" / "requests" / "thoracentesis-with-guidance-order.order-sign.json")
                      .read_text(encoding="utf-8"))
    headers = token(CALL_PATH)
    answered = session.post(first.base_url + CALL_PATH, json=call, headers=headers, timeout=10)
    assert answered.status_code == 200, first.log_text()[-2000:]
    replayed = session.post(second.base_url + CALL_PATH, json=call, headers=headers, timeout=10)
    assert replayed.status_code == 401
    assert replayed.json()["resourceType"] == "OperationOutcome"

    # 3. The same hook call reaching both instances (a retry through the proxy) is audited once.
    assert session.post(second.base_url + CALL_PATH, json=call, headers=token(CALL_PATH), timeout=10).status_code == 200
    assert session.post(proxy.base_url + CALL_PATH, json=call, headers=token(CALL_PATH), timeout=10).status_code == 200
    cards = [c for c in answered.json()["cards"] if "cpt-coding.suggestion" in c.get("extension", {})]
    assert cards
    deadline = time.monotonic() + 10
    while audited_rows(url, call["hookInstance"])[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # longer than a batch window: a second record would have been committed by now
    assert audited_rows(url, call["hookInstance"]) == (1, len(cards))

    # 4. Feedback on those cards through one instance, and through the other, is in one report.
    rule = cards[0]["extension"]["cpt-coding.suggestion"]["rule"]
    assert session.post(first.base_url + FEEDBACK_PATH, json={"feedback": [feedback_item(cards[0]["uuid"])]},
                        headers=token(FEEDBACK_PATH), timeout=10).status_code == 200
    overridden = feedback_item(cards[0]["uuid"], "overridden")
    assert session.post(second.base_url + FEEDBACK_PATH, json={"feedback": [overridden]},
                        headers=token(FEEDBACK_PATH), timeout=10).status_code == 200
    store = open_store(Settings(database_url=url))
    try:
        rows = {row.rule: row for row in store.report()}
    finally:
        store.close()
    assert (rows[rule].accepted, rows[rule].overridden) == (1, 1)

    # 5. One instance SIGKILLed under load: no acknowledged feedback lost, the proxy answers from the other.
    acknowledged: list[str] = []
    after_kill: list[int] = []
    killed_at: list[float] = []
    lock = threading.Lock()
    stop = threading.Event()

    def poster(thread: int) -> None:
        client = requests.Session()
        batch = 0
        while not stop.is_set():
            items = [f"load-{thread}-{batch}-{i}" for i in range(3)]
            batch += 1
            sent = time.monotonic()
            try:
                response = client.post(proxy.base_url + FEEDBACK_PATH, headers=token(FEEDBACK_PATH), timeout=10,
                                       json={"feedback": [feedback_item(card) for card in items]})
                status = response.status_code
            except requests.RequestException:
                status = 0  # cut off in flight: its outcome is unknown, which is allowed
            with lock:
                if status == 200:
                    acknowledged.extend(items)
                if killed_at and sent > killed_at[0] + 0.5:
                    after_kill.append(status)

    def wait_for(found: list, count: int, timeout: float = 30) -> None:
        """Until `found` (acknowledged items, or calls judged after the kill) holds `count` entries."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                if len(found) >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"only {len(found)} of {count} expected after {timeout} s")

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(acknowledged, 300)
        # Round-robin: both instances took part of the load before one of them dies.
        assert all(service.log_text().count("feedback stored") > 10 for service in (first, second))
        with lock:
            killed_at.append(time.monotonic())
        kill_instance(second)
        wait_for(acknowledged, len(acknowledged) + 600)
        # A fast machine acknowledges hundreds of items within the 0.5 s after the kill that is not judged.
        wait_for(after_kill, 50)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert after_kill and all(status == 200 for status in after_kill), sorted(set(after_kill))
    store = open_store(Settings(database_url=url))
    try:
        stored = {item.card for item in store.feedback_log()}
    finally:
        store.close()
    lost = set(acknowledged) - stored
    assert not lost, f"{len(lost)} acknowledged feedback items missing, e.g. {sorted(lost)[:5]}"
    assert session.get(proxy.base_url + "/healthz/ready", timeout=5).status_code == 200
