"""A round-robin HTTP proxy (HAProxy from Debian) on a free loopback port, in front of service instances.

Health-checks each backend every 200 ms on /healthz (down after 2 failures), and sends a request whose
connection is refused or reset to another backend (`retry-on` + `redispatch`): what a load balancer in front
of replicas does.
`tests/infra/install.sh` installs the `haproxy` package when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from .service import free_port

CONFIG = """\
global
    maxconn 512

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    # Feedback and hook calls are idempotent (stored once by their keys), so a retry elsewhere is safe.
    option http-buffer-request
    retry-on conn-failure empty-response response-timeout

frontend service
    bind 127.0.0.1:{port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /healthz
    # A busy machine may answer a check slowly: never mark a live instance down for that.
    timeout check 2s
{servers}
"""


@dataclass
class Proxy:
    process: subprocess.Popen
    port: int
    folder: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_text(self) -> str:
        log = self.folder / "haproxy.log"
        return log.read_text(errors="replace") if log.exists() else ""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if not found:
        raise RuntimeError("haproxy not found; run `bash tests/infra/install.sh` (as root)")
    return found


def start(backends: list[str], port: int | None = None, timeout: float = 15.0) -> Proxy:
    """HAProxy balancing round-robin over `backends` (``http://127.0.0.1:PORT`` URLs)."""
    port = port or free_port()
    folder = Path(tempfile.mkdtemp(prefix="cds-proxy-"))
    servers = "\n".join(
        f"    server i{n} {url.removeprefix('http://')} check inter 200ms fall 2 rise 2"
        for n, url in enumerate(backends)
    )
    config = folder / "haproxy.cfg"
    config.write_text(CONFIG.format(port=port, servers=servers), encoding="utf-8")
    log = open(folder / "haproxy.log", "w", encoding="utf-8")  # noqa: SIM115 - kept open for the child
    process = subprocess.Popen([haproxy_binary(), "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    proxy = Proxy(process, port, folder)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = proxy.log_text()
            proxy.stop()
            raise RuntimeError(f"haproxy exited with {process.returncode}:\n{text[-2000:]}")
        try:
            if requests.get(proxy.base_url + "/healthz", timeout=0.5).status_code == 200:
                return proxy
        except requests.RequestException:
            pass
        time.sleep(0.05)
    proxy.stop()
    raise RuntimeError(f"haproxy did not answer within {timeout} s")


@contextmanager
def running(backends: list[str], port: int | None = None) -> Iterator[Proxy]:
    proxy = start(backends, port)
    try:
        yield proxy
    finally:
        proxy.stop()
