"""`make bench`, audit part: `cds-service audit` on generated exports of 10,000 and 100,000 encounters.

    python -m bench.audit [--sizes 10000,100000] [--workers N] [--keep DIR]

The exports are written at bench time by bench/audit_export.py (fixture and Synthea patients with rewritten
ids; deterministic, nothing downloaded, nothing committed). Each size is audited by the command line in a
subprocess, as a user would run it, while this process samples the resident memory of its whole process
tree (the main process and its workers) every 100 ms. Prints and writes to bench/results/audit-latest.json:
wall time per phase, encounters/s, encounters per CPU-second (per core), peak memory, and how the time grows
from the smallest to the largest size.

Exit status: 0 when the peak memory stays under 1 GB at every size, 1 otherwise, 2 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from .audit_export import write_export

RESULTS = Path(__file__).resolve().parent / "results"
MEMORY_LIMIT = 1 << 30  # 1 GiB, whatever the input size


def _tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def audit_run(export: Path, out: Path, workers: int) -> dict:
    command = [sys.executable, "-m", "cds_service.cli", "audit", str(export), "--out", str(out),
               "--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               stdin=subprocess.DEVNULL)
    peak = 0
    phases: dict[str, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for line in process.stderr:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") in ("start", "end"):
            phases[f"{event['phase']}.{event['event']}"] = time.monotonic() - started
    process.wait(timeout=3600)
    wall = time.monotonic() - started
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"audit exited with {process.returncode}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    encounters = summary["encounters"]
    return {
        "encounters": encounters,
        "inputLines": summary["inputs"]["lines"],
        "findings": summary["findings"],
        "wallSeconds": round(wall, 2),
        "phaseSeconds": {p: round(phases.get(f"{p}.end", 0) - phases.get(f"{p}.start", 0), 2)
                         for p in ("read", "code", "write")},
        "cpuSeconds": round(cpu, 2),
        "encountersPerSecond": round(encounters / wall, 1),
        "encountersPerCpuSecond": round(encounters / cpu, 1) if cpu else None,
        "peakMemoryMiB": round(peak / (1 << 20), 1),
        "stageMiB": round(sum(f.stat().st_size for f in out.glob(".audit-state*")) / (1 << 20), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="encounter counts, comma-separated")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", type=Path, help="keep exports and outputs in this folder")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    runs = []
    try:
        for size in sizes:
            export = work / f"export-{size}"
            started = time.monotonic()
            counts = write_export(export, size)
            generated = time.monotonic() - started
            export_bytes = sum(f.stat().st_size for f in export.iterdir())
            run = audit_run(export, work / f"out-{size}", args.workers)
            run.update(size=size, generateSeconds=round(generated, 1), exportMiB=round(export_bytes / (1 << 20), 1),
                       exportLines=sum(counts.values()))
            runs.append(run)
            print(f"{size:>7} encounters asked, {run['encounters']} audited: {run['wallSeconds']} s "
                  f"(read {run['phaseSeconds']['read']} s, code {run['phaseSeconds']['code']} s, "
                  f"write {run['phaseSeconds']['write']} s), {run['encountersPerSecond']} enc/s, "
                  f"{run['encountersPerCpuSecond']} enc per CPU-s, peak {run['peakMemoryMiB']} MiB, "
                  f"export {run['exportMiB']} MiB / {run['exportLines']} lines", flush=True)
            if not args.keep:
                shutil.rmtree(export)
                shutil.rmtree(work / f"out-{size}")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"audit benchmark failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    growth = None
    if len(runs) >= 2:
        growth = {"sizeRatio": round(runs[-1]["encounters"] / runs[0]["encounters"], 2),
                  "timeRatio": round(runs[-1]["wallSeconds"] / runs[0]["wallSeconds"], 2)}
        print(f"time grows x{growth['timeRatio']} for x{growth['sizeRatio']} encounters")
    within = all(r["peakMemoryMiB"] * (1 << 20) < MEMORY_LIMIT for r in runs)
    print(f"peak memory under 1 GiB at every size: {'yes' if within else 'NO'}")
    RESULTS.mkdir(exist_ok=True)
    document = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
                "cpus": os.cpu_count(), "workers": args.workers, "runs": runs, "growth": growth,
                "memoryWithinLimit": within}
    (RESULTS / "audit-latest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
