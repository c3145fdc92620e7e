"""`make bench`: the service against a bare Flask baseline, same gunicorn settings, same load, one run.

    python -m bench.run [--duration 6] [--rounds 3] [--concurrency 1,8,32] [--scaling 10,100,1000] [--cases ...]

1. Builds the requests from the coding fixtures in ``fhir_fixtures/requests/`` (bench/workload.py):
   order-sign and note-sign with a complete prefetch of about 40 resources, and encounter-discharge with
   no prefetch, its encounter loaded into the loopback FHIR server of the integration tests.
2. Starts the service (development profile: no authentication, no playground) and the baseline
   (bench/baseline_app.py) under gunicorn with ``cds_service/gunicorn_conf.py``; times start-up to the
   first answered hook call.
3. Drives both, case by case and concurrency by concurrency, from a separate process (bench/loadgen.py),
   in alternating slices (baseline, service, baseline, ...) so that a busy moment of a shared machine
   weighs on both; then the note-sign case with growing encounters against the service alone.
4. Reads the workers' resident memory, prints the table and the targets of issue 6, and writes the same
   as JSON to ``bench/results/`` (``latest.json`` and a dated copy).

Exit status: 0 when every target is met, 1 when one is missed, 2 when the benchmark itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from cds_service.config import Settings
from cds_service.protocol.response_check import response_problems
from cds_service.services import NOTE_SIGN_HOOK
from tests.infra import fhir_server

from . import report
from .fetch_floor import fetch_floor
from .loadgen import Job, summarise
from .servers import (
    BASELINE_APP,
    SERVICE_APP,
    SERVICE_ENV,
    SYNC_ARGS,
    Started,
    cpu_seconds,
    rss_mb,
    start_gunicorn,
    worker_rss_mb,
)
from .text_cost import long_note_text, text_cost, with_note_text
from .workload import FIXTURES_DIR, BenchCall, discharge_call, find_fixture, padded_call

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ORDER_SIGN = "order-sign"
CASES = ("order-sign", "note-sign", "note-sign-2kb", "encounter-discharge")


class BenchError(RuntimeError):
    """The benchmark could not run (a server did not start, a request did not answer 200)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ints = lambda text: [int(x) for x in text.split(",") if x.strip()]  # noqa: E731
    parser.add_argument("--duration", type=float, default=6.0,
                        help="seconds measured per case, concurrency and server (default 6)")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds of unmeasured load before each slice")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating baseline/service slices the duration is split into (default 3)")
    parser.add_argument("--concurrency", type=ints, default=[1, 8, 32], help="comma-separated (default 1,8,32)")
    parser.add_argument("--cases", type=lambda text: [x for x in text.split(",") if x], default=list(CASES),
                        help=f"comma-separated subset of {','.join(CASES)} (default all)")
    parser.add_argument("--resources", type=int, default=40, help="resources per request (default 40)")
    parser.add_argument("--scaling", type=ints, default=[10, 100, 1000],
                        help="encounter sizes for the note-sign growth run (default 10,100,1000; empty to skip)")
    parser.add_argument("--scaling-duration", type=float, default=3.0, help="seconds measured per size")
    parser.add_argument("--worker-class", choices=("gthread", "sync"),
                        default=os.environ.get("GUNICORN_WORKER_CLASS", "gthread"),
                        help="the service's gunicorn worker model (default gthread)")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES_DIR, help="folder of request fixtures")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON results go")
    return parser.parse_args(argv)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def gunicorn_settings() -> dict:
    from cds_service import gunicorn_conf  # reads WEB_CONCURRENCY / GUNICORN_THREADS like gunicorn does

    return {"workers": gunicorn_conf.workers, "threads": gunicorn_conf.threads,
            "worker_class": gunicorn_conf.worker_class}


def load(url: str, body_file: Path, concurrency: int, duration: float, warmup: float, raw: bool = False) -> dict:
    """One run of the load generator in its own process."""
    job = Job(url=url, body_file=str(body_file), concurrency=concurrency, duration=duration, warmup=warmup,
              raw=raw)
    done = subprocess.run([sys.executable, "-m", "bench.loadgen"], input=json.dumps(asdict(job)), cwd=ROOT,
                          capture_output=True, text=True, timeout=duration + warmup + 60)
    if done.returncode != 0:
        raise BenchError(f"load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def merged(parts: list[dict]) -> dict:
    """One result from several runs of the same load (their latencies pooled, their seconds added)."""
    latencies = [ms for part in parts for ms in part["latencies_ms"]]
    samples = [text for part in parts for text in part["error_samples"]]
    result = summarise(latencies, sum(p["errors"] for p in parts), sum(p["seconds"] for p in parts), samples)
    return asdict(result) | {"latencies_ms": None, "runs": len(parts), "sent": sum(p.get("sent", 0) for p in parts)}


def compare(urls: dict[str, str], body_file: Path, concurrency: int, args: argparse.Namespace,
            cpu: dict[str, Callable[[], float]] | None = None) -> dict[str, dict]:
    """The same load on every server (name -> URL) in alternating slices, so that a busy moment of the
    machine falls on all alike; returns the merged result per name. For the servers in `cpu` (name -> their
    workers' CPU seconds so far), also the workers' CPU time per request (warm-up requests included)."""
    slice_seconds = args.duration / args.rounds
    parts: dict[str, list[dict]] = {name: [] for name in urls}
    spent: dict[str, float] = dict.fromkeys(urls, 0.0)
    cpu = cpu or {}
    for _ in range(args.rounds):
        for name, url in urls.items():
            before = cpu[name]() if name in cpu else 0.0
            parts[name].append(load(url, body_file, concurrency, slice_seconds, args.warmup, raw=True))
            spent[name] += cpu[name]() - before if name in cpu else 0.0
    results = {name: merged(found) for name, found in parts.items()}
    for name in cpu:
        sent = results[name]["sent"]
        results[name]["cpu_ms_per_request"] = round(spent[name] * 1000 / sent, 3) if sent else None
    return results


def ratio(ours: dict, base: dict) -> float:
    return round(ours["throughput"] / base["throughput"], 3) if base["throughput"] else 0.0


def run_entry(bench_call: BenchCall, concurrency: int, measured: dict[str, dict]) -> dict:
    """One row of results: the service and each baseline under the same load, and the throughput ratios."""
    ours = measured["service"]
    return {"case": bench_call.case, "concurrency": concurrency, "resources": bench_call.resources,
            "request_bytes": len(bench_call.body()), **measured,
            "ratio": ratio(ours, measured["baseline"]), "ratio_sync": ratio(ours, measured["baseline_sync"])}


def post(started: Started, bench_call: BenchCall) -> tuple[int, dict]:
    import requests

    response = requests.post(started.service.base_url + bench_call.path, data=bench_call.body(),
                             headers={"Content-Type": "application/json"}, timeout=30)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"text": response.text[:500]}


def checked_cards(started: Started, bench_call: BenchCall) -> list[dict]:
    """The service's answer to a benchmark request: it must be a 200 and a valid CDS Hooks response."""
    status, answer = post(started, bench_call)
    if status != 200:
        raise BenchError(f"{bench_call.case}: the service answered {status}: {json.dumps(answer)[:1000]}")
    problems = response_problems(answer)
    if problems:
        raise BenchError(f"{bench_call.case}: the service's response is not valid CDS Hooks: {problems[:5]}")
    return answer["cards"]


def write_body(folder: Path, bench_call: BenchCall) -> Path:
    path = folder / f"{bench_call.case}.json"
    path.write_bytes(bench_call.body())
    return path


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def benchmark(args: argparse.Namespace, work: Path) -> dict:
    order_path, order_fixture = find_fixture(ORDER_SIGN, args.fixtures)
    note_path, note_fixture = find_fixture(NOTE_SIGN_HOOK, args.fixtures)
    try:
        discharge_path, discharge_fixture = find_fixture("encounter-discharge", args.fixtures)
    except FileNotFoundError:
        discharge_path, discharge_fixture = note_path, note_fixture
    results: dict = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "settings": {**gunicorn_settings(), "worker_class": args.worker_class, "duration_s": args.duration,
                     "warmup_s": args.warmup,
                     "resources": args.resources, "service_env": SERVICE_ENV,
                     "load_generator": "bench/loadgen.py: one process, a thread and keep-alive connection per client"},
        "fixtures": {name: str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path) for name, path in
                     (("order-sign", order_path), ("note-sign", note_path), ("encounter-discharge", discharge_path))},
        "runs": [], "scaling": [],
    }
    progress("starting the loopback FHIR server")
    with fhir_server.start() as fhir:
        discharge, encounter = discharge_call(discharge_fixture, args.resources, fhir.base_url)
        fhir.load(encounter)
        # note-sign-2kb: the same call with a realistic 2 KB operative note for the clinical text pipeline.
        long_note = with_note_text(note_fixture, long_note_text())
        calls = [padded_call("order-sign", order_fixture, args.resources),
                 padded_call("note-sign", note_fixture, args.resources),
                 padded_call("note-sign-2kb", long_note, args.resources), discharge]
        if "note-sign-2kb" in args.cases:
            progress("note-sign-2kb: in-process cost of the note")
            results["text_cost"] = text_cost(long_note)
        calls = [c for c in calls if c.case in args.cases or c.case == "note-sign"]  # note-sign probes start-up
        bodies = {c.case: write_body(work, c) for c in calls}
        scaling_calls = [padded_call(f"note-sign-{n}", note_fixture, n) for n in args.scaling]

        progress("starting the service")
        env = {**SERVICE_ENV, "CDS_SQLITE_PATH": str(work / "cds.sqlite3"), "GUNICORN_WORKER_CLASS": args.worker_class}
        note = next(c for c in calls if c.case == "note-sign")
        service = start_gunicorn(SERVICE_APP, env, note.path, note.body(), work)
        try:
            cards = {c.service.id: checked_cards(service, c) for c in calls}
            for c in scaling_calls:
                checked_cards(service, c)
            results["cards"] = {c.case: len(cards[c.service.id]) for c in calls}
            cards_file = work / "baseline-cards.json"
            cards_file.write_text(json.dumps(cards), encoding="utf-8")
            progress("starting the baselines (gthread like the service, and gunicorn's default sync)")
            baseline_env = {"BENCH_BASELINE_CARDS": str(cards_file)}
            baseline = start_gunicorn(BASELINE_APP, baseline_env, note.path, note.body(), work)
            baseline_sync = None
            try:
                baseline_sync = start_gunicorn(BASELINE_APP, baseline_env, note.path, note.body(), work,
                                               extra_args=SYNC_ARGS)
                results["startup_s"] = {"service": round(service.startup_seconds, 2),
                                        "baseline": round(baseline.startup_seconds, 2)}
                for c in (c for c in calls if c.case in args.cases):
                    if c.case == "encounter-discharge":
                        progress("encounter-discharge: the FHIR server's queries alone")
                        results["fetch_floor"] = fetch_floor(fhir.base_url, c.service, c.call["context"],
                                                             calls=max(5, int(args.duration * 8)),
                                                             workers=Settings().fhir_max_workers)
                    for concurrency in args.concurrency:
                        progress(f"{c.case} at concurrency {concurrency}")
                        urls = {"baseline": baseline.service.base_url + c.path,
                                "baseline_sync": baseline_sync.service.base_url + c.path,
                                "service": service.service.base_url + c.path}
                        measured = compare(urls, bodies[c.case], concurrency, args,
                                           cpu={"service": lambda: cpu_seconds(service.service)})
                        results["runs"].append(run_entry(c, concurrency, measured))
                for c in scaling_calls:
                    progress(f"note-sign with {c.resources} resources")
                    body_file = write_body(work, c)
                    point = load(service.service.base_url + c.path, body_file, 1, args.scaling_duration,
                                 args.warmup)
                    results["scaling"].append({"resources": c.resources, "body_bytes": len(c.body()), **point})
                results["scaling_growth"] = report.scaling_slopes(results["scaling"])
                results["rss_mb"] = {"service": worker_rss_mb(service.service),
                                     "service_master": rss_mb(service.service.process.pid),
                                     "baseline": worker_rss_mb(baseline.service),
                                     "baseline_sync": worker_rss_mb(baseline_sync.service)}
            finally:
                baseline.service.stop()
                if baseline_sync is not None:
                    baseline_sync.service.stop()
        finally:
            service.service.stop()
    results["targets"] = [t.as_dict() for t in report.evaluate(results)]
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def save(results: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1) + "\n"
    stamp = results["generated"].replace(":", "").replace("-", "")
    (folder / f"bench-{stamp}.json").write_text(text, encoding="utf-8")
    latest = folder / "latest.json"
    latest.write_text(text, encoding="utf-8")
    return latest


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cds-bench-") as work:
        try:
            results = benchmark(args, Path(work))
        except (BenchError, FileNotFoundError, RuntimeError, fhir_server.FhirServerError) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    path = save(results, args.results_dir)
    print(report.render(results))
    print(f"\nresults: {path} ({results['wall_seconds']} s)")
    return 0 if all(t["met"] for t in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
