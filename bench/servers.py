"""gunicorn processes for the benchmark: the service and the baseline, same config, different app module.

Start-up is measured from spawning gunicorn to the first hook call answered with 200, polled every
20 ms; resident memory is read from /proc after the load.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.infra.service import RunningService, free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICE_APP = "cds_service.wsgi:app"
BASELINE_APP = "bench.baseline_app:app"
GUNICORN_CONF = "python:cds_service.gunicorn_conf"
# The floor users start from: gunicorn's default sync workers (one request at a time per worker), with the
# project's worker count. Command-line settings override the config file's.
SYNC_ARGS = ("--worker-class", "sync", "--threads", "1")
POLL_SECONDS = 0.02

# The service as the benchmark runs it: development profile (no authentication), nothing optional on.
SERVICE_ENV = {
    "CDS_PROFILE": "development",
    "CDS_AUTH_REQUIRED": "0",
    "CDS_PLAYGROUND": "0",
    "CDS_JSON_LOGS": "1",  # production's log format: one JSON line per call is part of the real cost
}


@dataclass
class Started:
    service: RunningService
    startup_seconds: float


def _answers(port: int, path: str, body: bytes) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start_gunicorn(
    app_module: str, env: dict[str, str], probe_path: str, probe_body: bytes, log_dir: Path, timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
) -> Started:
    """gunicorn with the project's config on a free loopback port, ready once ``probe_path`` answers 200."""
    port = free_port()
    log_path = log_dir / f"{app_module.split(':')[0].replace('.', '-')}-{port}.log"
    full_env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)}
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - kept open for the child's lifetime
    spawned = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF, *extra_args, app_module],
        cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    log_file.close()
    running = RunningService(process, f"http://127.0.0.1:{port}", log_path, full_env)
    deadline = spawned + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{app_module} exited with {process.returncode}:\n{running.log_text()[-4000:]}")
        if _answers(port, probe_path, probe_body):
            return Started(running, time.perf_counter() - spawned)
        time.sleep(POLL_SECONDS)
    running.stop()
    raise RuntimeError(f"{app_module} did not answer within {timeout:.0f} s:\n{running.log_text()[-4000:]}")


def child_pids(parent: int) -> list[int]:
    """Direct children of a process (gunicorn's workers), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start at the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == parent:
            children.append(int(entry.name))
    return sorted(children)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def worker_rss_mb(running: RunningService) -> list[float]:
    return [rss_mb(pid) for pid in child_pids(running.process.pid)]


def cpu_seconds(running: RunningService) -> float:
    """User + system CPU time of gunicorn's workers so far (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in child_pids(running.process.pid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks
