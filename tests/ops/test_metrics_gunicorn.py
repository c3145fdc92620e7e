"""Metrics under gunicorn: the workers' values add up (multiprocess mode), on the master's separate port."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.calls import order_sign_call
from tests.infra.service import free_port, start_service

from .metrics_text import value

pytestmark = pytest.mark.integration
SERVICE = "procedure-coding-order-sign"
ROUTE = "/cds-services/<service_id>"


def test_workers_add_up_on_the_metrics_port_and_survive_a_dead_worker(tmp_path: Path):
    metrics_port = free_port()
    env = {"CDS_SQLITE_PATH": str(tmp_path / "cds.sqlite3"), "CDS_PROFILE": "development", "CDS_PLAYGROUND": "0",
           "CDS_METRICS_PORT": str(metrics_port)}
    with start_service(env=env, workers=2, log_dir=tmp_path) as service:
        session = requests.Session()
        for _ in range(20):
            session.close()  # a new connection per call: gunicorn spreads them over both workers
            assert session.post(f"{service.base_url}/cds-services/{SERVICE}", json=order_sign_call(),
                                timeout=10).status_code == 200
        assert requests.get(service.base_url + "/metrics", timeout=5).status_code == 404  # not on the app port
        assert requests.get(service.base_url + "/healthz/ready", timeout=5).json()["status"] == "ready"
        deadline = time.monotonic() + 10
        while True:  # the audit writers commit within their batch window
            scrape = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scrape.status_code == 200, service.log_text()[-2000:]
            text = scrape.text
            if value(text, "cds_audit_records_total", result="written") == 20 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert value(text, "cds_http_requests_total", route=ROUTE, service=SERVICE, status="200") == 20
        assert value(text, "cds_audit_records_total", result="written") == 20
        assert value(text, "cds_audit_queue_depth") == 0
        # A worker killed outright: what it counted stays counted.
        os.kill(service.worker_pids()[0], signal.SIGKILL)
        time.sleep(0.5)
        again = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert value(again, "cds_http_requests_total", route=ROUTE, service=SERVICE, status="200") == 20
