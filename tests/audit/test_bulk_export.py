"""`--fhir-server`: the Bulk Data kick-off, status polling with Retry-After, downloads with a Bearer token."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from bench.audit_export import write_export
from cds_service.batch.bulk_export import BulkClient, BulkExportError, download_export, retry_after
from cds_service.batch.progress import Progress

from .bulk_server import BulkServer

TOKEN = "test-token-abc123"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server-files")
    write_export(folder, encounters=60, synthea=0)
    return folder


def _quiet() -> Progress:
    return Progress(tty=False, stream=io.StringIO())


def test_export_polls_as_told_and_downloads_with_the_token(source, tmp_path):
    waits: list[float] = []
    with BulkServer(source, TOKEN) as server:
        client = BulkClient(server.base + "/fhir", TOKEN, sleep=waits.append)
        folder = download_export(server.base + "/fhir", "Patient,Procedure", "2024-01-01T00:00:00Z", TOKEN,
                                 tmp_path / "export", _quiet(), client=client)
        assert server.kickoffs == [{"_type": "Patient,Procedure", "_since": "2024-01-01T00:00:00Z",
                                    "accept": "application/fhir+json"}]
        assert server.polls == 3
    assert waits[0] == 3.0 and 0.0 <= waits[1] <= 1.0  # Retry-After in seconds, then as an HTTP-date
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["0001.Patient.ndjson", "0002.Procedure.ndjson"]
    assert (folder / "0002.Procedure.ndjson").read_bytes() == (source / "Procedure.ndjson").read_bytes()
    assert json.loads((tmp_path / "export" / "manifest.json").read_text())["requiresAccessToken"] is True


def test_resume_does_not_start_a_second_export(source, tmp_path):
    with BulkServer(source, TOKEN, polls_before_done=0) as server:
        client = BulkClient(server.base + "/fhir", TOKEN, sleep=lambda _: None)
        download_export(server.base + "/fhir", None, None, TOKEN, tmp_path, _quiet(), client=client)
        first = sorted((tmp_path / "files").iterdir())[0]
        first.unlink()  # as if stopped before this file
        download_export(server.base + "/fhir", None, None, TOKEN, tmp_path, _quiet(), resume=True, client=client)
        assert len(server.kickoffs) == 1
        again = first.name.split(".", 1)[1]  # "0001.Claim.ndjson" was served as "Claim.ndjson"
        assert server.downloads.count(again) == 2 and server.downloads.count("Patient.ndjson") == 1


def test_failures_are_named(source, tmp_path):
    with BulkServer(source, TOKEN) as server:
        with pytest.raises(BulkExportError, match="kick-off refused: HTTP 401: a Bearer token is required"):
            BulkClient(server.base + "/fhir", "wrong").kick_off(None, None)
        server.fail_export = True
        client = BulkClient(server.base + "/fhir", TOKEN, sleep=lambda _: None)
        with pytest.raises(BulkExportError, match="export failed: HTTP 500: the export job failed"):
            client.wait(client.kick_off(None, None))


def test_backoff_without_retry_after_doubles():
    assert retry_after("120") == 120.0 and retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now=946684799.0 - 10) == pytest.approx(10.0)


def test_command_line_audits_a_server_export(source, tmp_path):
    with BulkServer(source, TOKEN, polls_before_done=0) as server:
        result = subprocess.run(
            [sys.executable, "-m", "cds_service.cli", "audit", "--fhir-server", server.base + "/fhir",
             "--out", str(tmp_path), "--workers", "1"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
            env={**__import__("os").environ, "CDS_BULK_TOKEN": TOKEN},
        )
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stderr + result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["encounters"] >= 60 and summary["findings"] > 0
    assert any(name.endswith(".Condition.ndjson") for name in summary["inputs"]["files"])
