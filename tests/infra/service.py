"""Start the real service under gunicorn on a free loopback port, for integration tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningService:
    process: subprocess.Popen
    base_url: str
    log_path: Path
    env: dict = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        ).stdout
        return [int(pid) for pid in out.split()]

    def __enter__(self) -> RunningService:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_service(
    env: dict[str, str] | None = None,
    workers: int = 2,
    log_dir: Path | None = None,
    port: int | None = None,
    timeout: float = 30.0,
) -> RunningService:
    """gunicorn with the project's own config, bound to 127.0.0.1; waits until /healthz answers."""
    port = port or free_port()
    log_dir = log_dir or Path(os.environ.get("TMPDIR", "/tmp"))
    log_path = log_dir / f"cds-service-{port}.log"
    full_env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    full_env.update(env or {})
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the child's lifetime
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cds_service.gunicorn_conf", "cds_service.wsgi:app"],
        cwd=ROOT,
        env=full_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    service = RunningService(process, base_url, log_path, full_env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{service.log_text()[-4000:]}")
        try:
            if requests.get(base_url + "/healthz", timeout=0.5).status_code == 200:
                return service
        except requests.RequestException:
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"service did not become ready in {timeout} s:\n{service.log_text()[-4000:]}")
