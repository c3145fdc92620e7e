"""The real service under gunicorn: a jti is accepted once across workers, and production does not start
without a trusted-issuers file."""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest
import requests

from tests.infra.service import RunningService, start_service

from .kit import ISS, ORDER_SIGN, SigningKey, mint, order_sign_call, write_issuers

pytestmark = pytest.mark.integration


@pytest.fixture
def service(tmp_path, es384_key):
    issuers = write_issuers(tmp_path / "issuers.json", [{"iss": ISS, "jwks": {"keys": [es384_key.public_jwk]}}])
    env = {
        "CDS_PROFILE": "production",
        "CDS_TRUSTED_ISSUERS": str(issuers),
        "CDS_SQLITE_PATH": str(tmp_path / "cds.sqlite3"),
        "CDS_JSON_LOGS": "1",
        "GUNICORN_THREADS": "2",
    }
    with start_service(env, workers=2, log_dir=tmp_path) as running:
        yield running


def _log_lines(service: RunningService) -> list[dict]:
    lines = []
    for line in service.log_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def _post(session: requests.Session, service: RunningService, token: str, call: dict) -> int:
    response = session.post(
        service.base_url + ORDER_SIGN, json=call, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return response.status_code


def _worker_of(session: requests.Session, service: RunningService, key: SigningKey) -> int:
    """Which worker holds this keep-alive connection: the pid on the log line of a call made through it."""
    call = order_sign_call()
    assert _post(session, service, mint(key, aud=service.base_url + ORDER_SIGN), call) == 200
    [line] = [entry for entry in _log_lines(service) if entry.get("hookInstance") == call["hookInstance"]]
    return line["pid"]


def _session_on(worker: int, service: RunningService, key: SigningKey) -> requests.Session:
    """A keep-alive connection held by this worker: the others are paused while it is opened, so only this
    worker can accept it (the kernel does not otherwise spread connections evenly)."""
    others = [pid for pid in service.worker_pids() if pid != worker]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        session = requests.Session()
        assert _worker_of(session, service, key) == worker
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)
    return session


def test_a_jti_is_accepted_once_whichever_worker_sees_it(service, es384_key):
    workers = service.worker_pids()
    assert len(workers) == 2
    sessions = {pid: _session_on(pid, service, es384_key) for pid in workers}
    try:
        (pid_a, on_a), (pid_b, on_b) = sessions.items()
        for first, second, second_pid in ((on_a, on_b, pid_b), (on_b, on_a, pid_a)):
            token = mint(es384_key, aud=service.base_url + ORDER_SIGN, jti=str(uuid.uuid4()))
            assert _post(first, service, token, order_sign_call()) == 200
            assert _post(second, service, token, order_sign_call()) == 401
            refusal = [e for e in _log_lines(service) if e.get("message") == "authentication failed"][-1]
            assert refusal["reason"] == "jti already used" and refusal["pid"] == second_pid
            assert _post(first, service, token, order_sign_call()) == 401  # and on the first worker again
        # Many fresh tokens, each used twice on alternating workers: every second use is refused.
        for i in range(10):
            token = mint(es384_key, aud=service.base_url + ORDER_SIGN)
            first, second = (on_a, on_b) if i % 2 else (on_b, on_a)
            assert [_post(first, service, token, order_sign_call()),
                    _post(second, service, token, order_sign_call())] == [200, 401]
    finally:
        for session in sessions.values():
            session.close()
    assert "eyJ" not in service.log_text()  # no JWT (base64url JSON) in gunicorn's output either


def test_production_without_trusted_issuers_does_not_start(tmp_path):
    env = {"CDS_PROFILE": "production", "CDS_SQLITE_PATH": str(tmp_path / "cds.sqlite3")}
    with pytest.raises(RuntimeError) as failure:
        start_service(env, workers=1, log_dir=tmp_path, timeout=20)
    assert "CDS_TRUSTED_ISSUERS" in str(failure.value)
