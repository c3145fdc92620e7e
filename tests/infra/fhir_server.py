"""Install, start and fill the loopback FHIR R4 test server in ``tests/infra/fhir_server``.

The server is Medplum's FHIR engine (``@medplum/fhir-router`` ``FhirRouter`` + ``MemoryRepository``)
behind a small ``node:http`` wrapper (``server.mjs``), run with the Node 22 that the npm package
``node`` installs into ``node_modules``. It binds 127.0.0.1 only and keeps data in memory.

    with start() as fhir:
        load(fhir.base_url, [patient, encounter, *procedures])
        requests.get(f"{fhir.base_url}/Procedure", params={"patient": "p1"})
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

SERVER_DIR = Path(__file__).resolve().parent / "fhir_server"
NODE = SERVER_DIR / "node_modules" / "node" / "bin" / "node"
INSTALL_MARKER = SERVER_DIR / "node_modules" / ".package-lock.json"  # written by npm after an install
HOST = "127.0.0.1"
FHIR_JSON = "application/fhir+json"

Resource = dict[str, Any]


class FhirServerError(RuntimeError):
    """The test FHIR server could not be installed, started or used."""


def _needs_install() -> bool:
    if not NODE.exists() or not INSTALL_MARKER.exists():
        return True
    installed = INSTALL_MARKER.stat().st_mtime
    return any((SERVER_DIR / f).stat().st_mtime > installed for f in ("package.json", "package-lock.json"))


def ensure_installed(timeout: float = 600.0) -> Path:
    """Run ``npm ci`` in the server folder unless node_modules is present and newer than the lock file.

    Returns the path of the Node binary that runs the server. Safe to call from parallel processes.
    """
    if not _needs_install():
        return NODE
    npm = shutil.which("npm")
    if npm is None:
        raise FhirServerError(
            "npm is not on PATH; the test FHIR server needs Node.js and npm to install "
            f"{SERVER_DIR / 'package-lock.json'} (Debian: apt-get install -y nodejs npm)"
        )
    key = hashlib.sha256(str(SERVER_DIR).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"cds-fhir-server-install-{key}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _needs_install():  # another process installed it while we waited
            return NODE
        cmd = [npm, "ci", "--no-audit", "--no-fund", "--engine-strict=false"]
        try:
            done = subprocess.run(
                cmd, cwd=SERVER_DIR, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise FhirServerError(f"`{' '.join(cmd)}` in {SERVER_DIR} timed out after {timeout:.0f} s") from exc
        if done.returncode != 0 or not NODE.exists():
            output = (done.stdout + done.stderr)[-4000:]
            raise FhirServerError(f"`{' '.join(cmd)}` in {SERVER_DIR} failed ({done.returncode}):\n{output}")
    return NODE


class FhirServer:
    """A running server process; ``base_url`` is ``http://127.0.0.1:PORT/fhir``."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log_path = log_path

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1].split("/", 1)[0])

    def log(self) -> str:
        """What the server printed (start line, errors; per-request lines with FHIR_SERVER_LOG=1)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def load(self, resources_or_bundle: Resource | Iterable[Resource]) -> list[Resource]:
        return load(self.base_url, resources_or_bundle)

    def reset(self) -> None:
        reset(self.base_url)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start(port: int | None = None, timeout: float = 30.0, verbose: bool = False, cors: bool = False) -> FhirServer:
    """Install if needed, start the server on ``port`` (a free one if None) and wait until it answers.

    ``verbose`` makes the server log one line per request (method, path, status, time) to its log;
    ``cors`` lets browser pages of any origin read it (the demo's sandbox).
    """
    node = ensure_installed()
    fd, log_name = tempfile.mkstemp(prefix="fhir-server-", suffix=".log")
    log_path = Path(log_name)
    env = {**os.environ, "FHIR_SERVER_LOG": "1" if verbose else "0", "FHIR_SERVER_CORS": "1" if cors else "0"}
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen(
            [str(node), "server.mjs", "--port", str(port or 0)],
            cwd=SERVER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = FhirServer(process, "", log_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise FhirServerError(f"FHIR server exited with {process.returncode}:\n{server.log()[-4000:]}")
            if not server.base_url:
                # port 0: the server picks a free port and prints "listening http://127.0.0.1:PORT/fhir"
                for line in server.log().splitlines():
                    if line.startswith("listening "):
                        server.base_url = line.split(" ", 1)[1].strip()
            if server.base_url and _ready(server.base_url):
                return server
            time.sleep(0.05)
        raise FhirServerError(f"FHIR server not ready after {timeout:.0f} s:\n{server.log()[-4000:]}")
    except BaseException:
        server.stop()
        raise


def _ready(base_url: str) -> bool:
    try:
        status, body = request("GET", f"{base_url}/metadata", timeout=2.0)
    except (OSError, FhirServerError):
        return False
    return status == 200 and body.get("resourceType") == "CapabilityStatement"


def request(
    method: str,
    url: str,
    body: Mapping[str, Any] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Resource]:
    """One FHIR JSON request; returns (status, parsed body) for 2xx/4xx/5xx alike."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Accept": FHIR_JSON})
    if data is not None:
        req.add_header("Content-Type", FHIR_JSON)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError as exc:
        raise FhirServerError(f"{method} {url}: {status} with a non-JSON body") from exc


def load(base_url: str, resources_or_bundle: Resource | Iterable[Resource]) -> list[Resource]:
    """Store resources and return them as stored.

    A ``transaction``/``batch`` Bundle is POSTed to the base URL as is (``urn:uuid`` references are
    resolved by the server). Any other Bundle, a single resource or a list of resources is stored one
    resource at a time: PUT ``Type/id`` when it has an id, POST ``Type`` otherwise.
    """
    if isinstance(resources_or_bundle, Mapping):
        item: Resource = dict(resources_or_bundle)
        if item.get("resourceType") == "Bundle" and item.get("type") in ("transaction", "batch"):
            status, reply = request("POST", base_url, item)
            failed = [e.get("response", {}) for e in reply.get("entry", []) if not _is_2xx(e.get("response", {}))]
            if status != 200 or failed:
                raise FhirServerError(f"{item['type']} failed ({status}): {json.dumps(failed or reply)[:2000]}")
            return [e["resource"] for e in reply.get("entry", []) if "resource" in e]
        if item.get("resourceType") == "Bundle":
            resources: Iterable[Resource] = [e["resource"] for e in item.get("entry", []) if "resource" in e]
        else:
            resources = [item]
    else:
        resources = resources_or_bundle
    stored = []
    for resource in resources:
        rtype, rid = resource["resourceType"], resource.get("id")
        method, url = ("PUT", f"{base_url}/{rtype}/{rid}") if rid else ("POST", f"{base_url}/{rtype}")
        status, reply = request(method, url, resource)
        if status not in (200, 201):
            raise FhirServerError(f"{method} {url} -> {status}: {json.dumps(reply)[:2000]}")
        stored.append(reply)
    return stored


def reset(base_url: str) -> None:
    """Delete every resource (a non-FHIR endpoint of this test server only)."""
    root = base_url.removesuffix("/").removesuffix("/fhir")
    status, reply = request("POST", f"{root}/admin/reset")
    if status != 200:
        raise FhirServerError(f"reset -> {status}: {reply}")


def _is_2xx(response: Mapping[str, Any]) -> bool:
    return str(response.get("status", "")).split(" ", 1)[0].startswith("2")
