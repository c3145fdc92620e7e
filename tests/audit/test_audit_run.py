"""`cds-service audit` end to end on a generated export (a few hundred encounters, gzip, with bad lines)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.audit_export import write_export
from cds_service.batch.progress import Progress
from cds_service.batch.runner import AuditOptions, Interrupted, run_audit
from cds_service.config import Settings

FEES = Path(__file__).parent / "fee-schedule.csv"
BAD_LINES = [b"{not json", b"[1, 2]", b'{"resourceType": "Procedure", "id": "orphan", "status": "completed"}']


def _quiet() -> Progress:
    return Progress(tty=False, stream=io.StringIO())


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    write_export(folder, encounters=400, compress=True, synthea=1)  # 27 fixtures + 38 Synthea encounters a round
    # malformed lines in the middle of a gzip file: lines 3, 5 and 7 of Procedure.ndjson.gz
    path = folder / "Procedure.ndjson.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines()
    for at, bad in zip((2, 4, 6), BAD_LINES, strict=True):
        lines.insert(at, bad)
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n\n"))
    return folder


@pytest.fixture(scope="module")
def single(export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single")
    run_audit(AuditOptions([export], out, Settings().rule_packs_dir, workers=1, fee_schedule=FEES), _quiet())
    return out


def _findings(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "findings.ndjson").read_text().splitlines()]


def test_counts_add_up_and_errors_are_listed(export, single):
    summary = json.loads((single / "summary.json").read_text())
    inputs = summary["inputs"]
    assert inputs["lines"] == inputs["processed"] + inputs["errors"]
    assert inputs["errors"] == 3
    written = sum(len(gzip.decompress(p.read_bytes()).split(b"\n")) - 1 for p in export.glob("*.gz"))
    assert inputs["lines"] == written - 1  # the one blank line is not a line of data
    errors = [json.loads(line) for line in (single / "errors.ndjson").read_text().splitlines()]
    assert [(e["file"], e["line"]) for e in errors] == [("Procedure.ndjson.gz", n) for n in (3, 5, 7)]
    assert "not JSON" in errors[0]["error"] and "names no Patient" in errors[2]["error"]
    assert summary["encounters"] >= 300 and summary["findings"] == len(_findings(single))
    assert sum(summary["byStatus"].values()) == summary["findings"]
    assert all(summary["byStatus"][s] > 0 for s in summary["byStatus"])  # the export meets every status


def test_worklist_is_the_exceptions_by_value(single):
    summary = json.loads((single / "summary.json").read_text())
    rows = list(csv.DictReader((single / "worklist.csv").open()))
    assert len(rows) == summary["exceptions"] > 0
    assert all(row["status"] != "match" for row in rows)
    values = [float(row["value"]) for row in rows]
    assert values == sorted(values, reverse=True) and values[0] > 0
    assert summary["moneyAtStake"]["total"] == pytest.approx(sum(values), abs=0.05)
    assert rows[0]["evidence"].startswith("Procedure/")


def test_report_is_self_contained_and_links_evidence(single):
    html = (single / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing from another host
    assert "<svg" in html and "Status by procedure family" in html and "Findings by month" in html
    links = set(re.findall(r'href="#(ev-\d+)"', html))
    assert links and links <= set(re.findall(r'<details id="(ev-\d+)"', html))


def test_workers_give_the_same_findings(export, single, tmp_path):
    run_audit(AuditOptions([export], tmp_path, Settings().rule_packs_dir, workers=2, fee_schedule=FEES), _quiet())
    assert (tmp_path / "findings.ndjson").read_bytes() == (single / "findings.ndjson").read_bytes()


def test_interrupt_then_resume(export, single, tmp_path, monkeypatch):
    """A real SIGINT during coding stops the run; --resume finishes it with the same findings."""
    import cds_service.batch.runner as runner

    monkeypatch.setattr(runner, "CHUNK_ROWS", 200)
    progress = _quiet()
    original = progress.advance
    sent = []

    def advance(count, total=None, **note):
        original(count, total, **note)
        if progress.phase == "code" and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    progress.advance = advance
    options = AuditOptions([export], tmp_path, Settings().rule_packs_dir, workers=1, fee_schedule=FEES)
    with pytest.raises(Interrupted):
        run_audit(options, progress)
    assert not (tmp_path / "findings.ndjson").exists()
    options.resume = True
    log = io.StringIO()
    run_audit(options, Progress(tty=False, stream=log))
    code_start = next(json.loads(x) for x in log.getvalue().splitlines() if '"code"' in x)
    assert code_start["done"] > 0  # picked up where it stopped
    assert (tmp_path / "findings.ndjson").read_bytes() == (single / "findings.ndjson").read_bytes()


def test_command_line_prints_json_progress_off_a_terminal(export, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cds_service.cli", "audit", str(export), "--out", str(tmp_path), "--workers", "2"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert {e["phase"] for e in events if e["event"] == "start"} == {"read", "code", "write"}
    assert events[-1]["event"] == "message" and "encounters" in events[-1]["message"]
    read_end = next(e for e in events if e["event"] == "end" and e["phase"] == "read")
    assert read_end["done"] == read_end["total"] and read_end["lines"] > 1000  # bytes, and lines read
    assert (tmp_path / "report.html").exists() and "moneyAtStake" not in (tmp_path / "summary.json").read_text()


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream=stream, tty=True)
    progress.start("read", "bytes", 10)
    progress.advance(5, resources=42)
    progress.close_phase()
    assert "read (bytes)" in stream.getvalue() and "5/10" in stream.getvalue() and "42 resources" in stream.getvalue()


def test_dask_cluster_gives_the_same_findings(export, single, tmp_path):
    """Two Dask worker processes (LocalCluster), partitioned by patient: the same outputs as one machine."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        options = AuditOptions([export], tmp_path, Settings().rule_packs_dir, workers=1, fee_schedule=FEES,
                               dask_scheduler=cluster.scheduler_address)
        summary = run_audit(options, _quiet())
    assert summary["findings"] > 0
    for name in ("findings.ndjson", "worklist.csv", "summary.json", "errors.ndjson"):
        assert (tmp_path / name).read_bytes() == (single / name).read_bytes(), name


def test_ctrl_c_on_the_command_line_then_resume(export, single, tmp_path):
    """SIGINT to the command (as a terminal sends it to the process group, workers included): it exits 130
    naming --resume, or had already finished; either way --resume ends with the uninterrupted run's findings."""
    command = [sys.executable, "-m", "cds_service.cli", "audit", str(export), "--out", str(tmp_path),
               "--workers", "2", "--fee-schedule", str(FEES)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    for line in process.stderr:
        if '"phase":"code"' in line:
            os.killpg(process.pid, signal.SIGINT)
            break
    remaining = process.stderr.read()
    assert process.wait(timeout=60) in (0, 130)
    if process.returncode == 130:
        assert "--resume" in remaining and "Traceback" not in remaining
    result = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "findings.ndjson").read_bytes() == (single / "findings.ndjson").read_bytes()
