"""The benchmark harness runs end to end with tiny numbers (no timing is asserted: that is `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `bench` is a top-level folder, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.workload import find_fixture, padded_call, prefetch_resources  # noqa: E402
from cds_service.services import NOTE_SIGN_HOOK  # noqa: E402


@pytest.mark.parametrize("total", [10, 40, 250])
def test_padded_note_sign_holds_exactly_the_requested_resources(total):
    _, fixture = find_fixture(NOTE_SIGN_HOOK)
    first, again = padded_call("note-sign", fixture, total), padded_call("note-sign", fixture, total)
    assert first.resources == total
    assert first.body() == again.body()  # deterministic: the same bytes on every run
    resources = prefetch_resources(first.call)
    keys = [(r["resourceType"], r.get("id")) for r in resources]
    assert len(keys) == len(set(keys))
    # Every resource the fixture prefetched is still there: companions only add.
    own = {(r["resourceType"], r.get("id")) for r in prefetch_resources(fixture)}
    assert own <= set(keys)


@pytest.mark.integration
def test_bench_run_end_to_end_with_tiny_numbers(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--duration", "0.3", "--warmup", "0.1", "--concurrency", "1,2",
         "--scaling", "10,30", "--scaling-duration", "0.3", "--results-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    # 1 = a target missed (tiny runs on a busy machine may); 2 would be a broken harness.
    assert done.returncode in (0, 1), done.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    runs = {(run["case"], run["concurrency"]) for run in results["runs"]}
    cases = ("order-sign", "note-sign", "note-sign-2kb", "encounter-discharge")
    assert runs == {(case, c) for case in cases for c in (1, 2)}
    assert results["text_cost"]["note_bytes"] > 1500 and results["text_cost"]["coding"]["median_ms"] > 0
    for run in results["runs"]:
        assert run["service"]["errors"] == 0 and run["baseline"]["errors"] == 0, run
        assert run["service"]["requests"] > 0 and run["baseline"]["throughput"] > 0
        assert run["baseline_sync"]["errors"] == 0 and run["baseline_sync"]["throughput"] > 0, run
        assert run["ratio_sync"] > 0
    assert [p["resources"] for p in results["scaling"]] == [10, 30]
    assert all(mb > 0 for mb in results["rss_mb"]["service"])
    assert 0 < results["startup_s"]["service"] < 60
    assert "order-sign" in done.stdout and "ratio" in done.stdout
