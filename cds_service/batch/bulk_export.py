"""Getting an export from a FHIR server with the Bulk Data Access API (`--fhir-server URL`).

Kick-off `GET [base]/$export?_type=...&_since=...` with `Prefer: respond-async` (202 + Content-Location),
then poll that status URL (202 while running: wait as long as its Retry-After says, else back off
exponentially; 429 likewise; 200 = the manifest), then download every `output` file. The Bearer token comes
from an environment variable and is sent to the FHIR server, and to the file URLs only when the manifest says
`requiresAccessToken`. It is never logged. The manifest and finished files are kept, so `--resume` neither
starts a second export nor downloads a file twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from .progress import Progress

REQUEST_TIMEOUT = 30.0
MAX_WAIT = 120.0  # longest pause between two status polls
TRANSIENT_CODES = {"transient", "throttled", "timeout", "lock-error", "no-store", "incomplete"}


class BulkExportError(RuntimeError):
    pass


def _problem(response: requests.Response) -> str:
    """What went wrong, from the server's OperationOutcome when it sent one."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    issues = body.get("issue") if isinstance(body, dict) else None
    texts = []
    for issue in issues if isinstance(issues, list) else []:
        if isinstance(issue, dict):
            details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
            texts.append(str(issue.get("diagnostics") or details.get("text") or issue.get("code") or ""))
    return f"HTTP {response.status_code}" + (f": {'; '.join(t for t in texts if t)}" if any(texts) else "")


def _transient(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    issues = body.get("issue") if isinstance(body, dict) else None
    return bool(issues) and all(isinstance(i, dict) and i.get("code") in TRANSIENT_CODES for i in issues)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class BulkClient:
    def __init__(self, base_url: str, token: str | None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 3600.0, first_wait: float = 1.0):
        if urlsplit(base_url).scheme not in ("http", "https"):
            raise BulkExportError(f"not an http(s) URL: {base_url}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.sleep = sleep
        self.timeout = timeout
        self.first_wait = first_wait

    def _headers(self, accept: str, with_token: bool = True) -> dict:
        headers = {"Accept": accept}
        if self.token and with_token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def kick_off(self, types: str | None, since: str | None) -> str:
        """Starts the export; returns the status URL."""
        url = self.base_url if self.base_url.endswith("$export") else f"{self.base_url}/$export"
        params = {k: v for k, v in (("_type", types), ("_since", since)) if v}
        if params:
            url += "?" + urlencode(params)
        headers = {**self._headers("application/fhir+json"), "Prefer": "respond-async"}
        deadline = time.monotonic() + self.timeout
        while True:
            response = self.session.get(url, headers=headers, timeout=REQUEST_TIMEOUT, allow_redirects=False)
            if response.status_code == 429 and time.monotonic() < deadline:  # an export of ours is still running
                self.sleep(min(retry_after(response.headers.get("Retry-After")) or self.first_wait, MAX_WAIT))
                continue
            if response.status_code != 202:
                raise BulkExportError(f"kick-off refused: {_problem(response)}")
            location = response.headers.get("Content-Location")
            if not location:
                raise BulkExportError("kick-off answered 202 without a Content-Location (status URL)")
            return urljoin(url, location)

    def wait(self, status_url: str, progress: Progress | None = None) -> dict:
        """Polls until the export is done; returns the manifest."""
        deadline = time.monotonic() + self.timeout
        backoff = self.first_wait
        while True:
            response = self.session.get(status_url, headers=self._headers("application/json"),
                                        timeout=REQUEST_TIMEOUT, allow_redirects=False)
            if response.status_code == 200:
                try:
                    manifest = response.json()
                except ValueError:
                    raise BulkExportError("the completed status is not JSON") from None
                if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
                    raise BulkExportError("the completed status has no 'output' list")
                return manifest
            retry = response.status_code in (202, 429) or (response.status_code >= 500 and _transient(response))
            if not retry:
                raise BulkExportError(f"export failed: {_problem(response)}")
            if time.monotonic() >= deadline:
                raise BulkExportError(f"export not done after {self.timeout:.0f} s")
            if progress is not None and response.headers.get("X-Progress"):
                progress.message(f"export: {response.headers['X-Progress'][:100]}")
            told = retry_after(response.headers.get("Retry-After"))
            pause = told if told is not None else backoff
            backoff = min(backoff * 2, MAX_WAIT)
            self.sleep(min(pause, MAX_WAIT, max(0.0, deadline - time.monotonic())))

    def download(self, manifest: dict, folder: Path, progress: Progress | None = None) -> list[Path]:
        """Every output file into `folder` (`<n>.<Type>.ndjson`); files finished before are kept."""
        folder.mkdir(parents=True, exist_ok=True)
        with_token = bool(manifest.get("requiresAccessToken"))
        paths = []
        for index, item in enumerate(manifest["output"], start=1):
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                raise BulkExportError(f"output[{index - 1}] has no url")
            rtype = item.get("type") if isinstance(item.get("type"), str) and item["type"].isalnum() else "data"
            target = folder / f"{index:04d}.{rtype}.ndjson"
            paths.append(target)
            if target.exists():
                continue
            url = urljoin(self.base_url + "/", item["url"])
            if urlsplit(url).scheme not in ("http", "https"):
                raise BulkExportError(f"output[{index - 1}].url is not http(s)")
            partial = target.with_suffix(".part")
            with self.session.get(url, headers=self._headers("application/fhir+ndjson", with_token), stream=True,
                                  timeout=REQUEST_TIMEOUT, allow_redirects=False) as response:
                if response.status_code != 200:
                    raise BulkExportError(f"download of output[{index - 1}] ({rtype}) failed: {_problem(response)}")
                with open(partial, "wb") as handle:
                    for block in response.iter_content(1 << 20):
                        handle.write(block)
                        if progress is not None:
                            progress.advance(len(block))
            partial.rename(target)
        return paths


def download_export(base_url: str, types: str | None, since: str | None, token: str | None, folder: Path,
                    progress: Progress, resume: bool = False, client: BulkClient | None = None) -> Path:
    """Runs (or, with resume, continues) an export into `folder`; returns the folder of NDJSON files."""
    client = client or BulkClient(base_url, token)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    if resume and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    else:
        for old in [*folder.glob("files/*.ndjson"), *folder.glob("files/*.part")]:
            old.unlink()
        progress.start("export", "polls", None)
        status_url = client.kick_off(types, since)
        manifest = client.wait(status_url, progress)
        progress.close_phase()
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    progress.start("download", "bytes", None)
    client.download(manifest, folder / "files", progress)
    progress.close_phase()
    errors = [e for e in manifest.get("error") or [] if isinstance(e, dict)]
    if errors:
        progress.message(f"export: the server listed {len(errors)} error file(s) in its manifest")
    return folder / "files"
