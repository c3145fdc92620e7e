"""A small loopback Bulk Data server for the tests: kick-off, status and file endpoints (FHIR Bulk Data
Access), serving the NDJSON files of a folder. It checks the Bearer token and the async headers, answers
202 with Retry-After for the first polls (seconds, then an HTTP-date through a 429), and records requests."""

from __future__ import annotations

import threading
from email.utils import formatdate
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server


def _outcome(status: int, text: str, code: str = "processing") -> Response:
    response = jsonify({"resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": code, "diagnostics": text}]})
    response.status_code = status
    response.content_type = "application/fhir+json"
    return response


class BulkServer:
    def __init__(self, folder: Path, token: str, polls_before_done: int = 2):
        self.folder = folder
        self.token = token
        self.polls_before_done = polls_before_done
        self.kickoffs: list[dict] = []
        self.polls = 0
        self.downloads: list[str] = []
        self.fail_export = False
        app = Flask(__name__)
        app.add_url_rule("/fhir/$export", view_func=self.kick_off)
        app.add_url_rule("/status/<job>", view_func=self.status)
        app.add_url_rule("/files/<name>", view_func=self.file)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> BulkServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def _authorised(self) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def kick_off(self) -> Response:
        if not self._authorised():
            return _outcome(401, "a Bearer token is required", "login")
        if request.headers.get("Prefer") != "respond-async":
            return _outcome(400, "Prefer: respond-async is required", "required")
        self.kickoffs.append({"_type": request.args.get("_type"), "_since": request.args.get("_since"),
                              "accept": request.headers.get("Accept")})
        return Response(status=202, headers={"Content-Location": f"{self.base}/status/job-1"})

    def status(self, job: str) -> Response:
        if not self._authorised():
            return _outcome(401, "a Bearer token is required", "login")
        self.polls += 1
        if self.fail_export:
            return _outcome(500, "the export job failed")
        if self.polls == 1 and self.polls_before_done > 0:
            return Response(status=202, headers={"Retry-After": "3", "X-Progress": "10% done"})
        if self.polls <= self.polls_before_done:
            return Response(status=429, headers={"Retry-After": formatdate(usegmt=True)})
        types = (self.kickoffs[-1]["_type"] or "").split(",") if self.kickoffs[-1]["_type"] else None
        output = [{"type": p.name.split(".")[0], "url": f"{self.base}/files/{p.name}", "count": 0}
                  for p in sorted(self.folder.glob("*.ndjson")) if not types or p.name.split(".")[0] in types]
        return jsonify({"transactionTime": "2026-01-01T00:00:00Z", "request": f"{self.base}/fhir/$export",
                        "requiresAccessToken": True, "output": output, "error": []})

    def file(self, name: str) -> Response:
        if not self._authorised():
            return _outcome(401, "a Bearer token is required", "login")
        path = self.folder / name
        if "/" in name or not path.is_file():
            return _outcome(404, "no such file", "not-found")
        self.downloads.append(name)
        return Response(path.read_bytes(), content_type="application/fhir+ndjson")
