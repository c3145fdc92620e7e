"""The benchmark's verdicts against the latency budgets of issues 6 and 14, and the tables it prints.

    python -m bench.report [bench/results/latest.json]   # the README's Markdown tables of a result file
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

# Issue 6, point 2 (2 cores, load generator on the same machine).
PREFETCH_CASES = ("order-sign", "note-sign", "note-sign-2kb")
FETCH_CASES = ("encounter-discharge",)
TARGET_CONCURRENCY = 8
PREFETCH_P99_MS = 50.0
FETCH_P99_MS = 250.0
MIN_THROUGHPUT_RATIO = 1 / 3
MAX_WORKER_RSS_MB = 150.0
MAX_STARTUP_S = 3.0
MAX_LARGE_ENCOUNTER_MS = 500.0
MAX_NOTE_MS = 5.0
# Issue 14, point 1: against gunicorn's default sync workers running the bare baseline.
# case: (min ratio, max p99 ms); note-sign "with the note pipeline": the fixture's note and the 2 KB note
SYNC_TARGETS = {"order-sign": (0.5, 30.0), "note-sign": (None, 50.0), "note-sign-2kb": (None, 50.0)}
# Growth from 100 to 1,000 resources may cost at most this many times more per resource than growth from
# 10 to 100 and still count as "roughly linear" (a quadratic cost would show about 10 times).
MAX_SLOPE_RATIO = 2.5


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    limit: float
    met: bool
    unit: str = ""

    def as_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "limit": self.limit, "met": self.met, "unit": self.unit}


def _run(results: dict, case: str, concurrency: int) -> dict | None:
    for run in results["runs"]:
        if run["case"] == case and run["concurrency"] == concurrency:
            return run
    return None


def scaling_slopes(points: list[dict]) -> dict:
    """Marginal latency per resource between consecutive sizes (ms per resource, from medians)."""
    ordered = sorted(points, key=lambda p: p["resources"])
    slopes = []
    for low, high in zip(ordered, ordered[1:], strict=False):
        extra = high["resources"] - low["resources"]
        slopes.append({
            "from": low["resources"], "to": high["resources"],
            "ms_per_resource": round((high["p50_ms"] - low["p50_ms"]) / extra, 4) if extra else 0.0,
        })
    ratio = None
    if len(slopes) >= 2 and slopes[0]["ms_per_resource"] > 0:
        ratio = round(slopes[-1]["ms_per_resource"] / slopes[0]["ms_per_resource"], 2)
    return {"slopes": slopes, "last_to_first_slope_ratio": ratio}


def evaluate(results: dict) -> list[Target]:
    found: list[Target] = []
    for case in PREFETCH_CASES:
        run = _run(results, case, TARGET_CONCURRENCY)
        if run is None:
            continue
        service, baseline = run["service"], run["baseline"]
        found.append(Target(f"{case} p99 at concurrency {TARGET_CONCURRENCY}", service["p99_ms"],
                            PREFETCH_P99_MS, service["p99_ms"] <= PREFETCH_P99_MS, "ms"))
        ratio = service["throughput"] / baseline["throughput"] if baseline["throughput"] else 0.0
        found.append(Target(f"{case} throughput / baseline at concurrency {TARGET_CONCURRENCY}",
                            round(ratio, 3), round(MIN_THROUGHPUT_RATIO, 3), ratio >= MIN_THROUGHPUT_RATIO))
    for case, (min_ratio, max_p99) in SYNC_TARGETS.items():
        run = _run(results, case, TARGET_CONCURRENCY)
        if run is None or "baseline_sync" not in run:
            continue
        if min_ratio is not None:
            found.append(Target(f"{case} throughput / sync baseline at concurrency {TARGET_CONCURRENCY}",
                                run["ratio_sync"], min_ratio, run["ratio_sync"] >= min_ratio))
        p99 = run["service"]["p99_ms"]
        found.append(Target(f"{case} p99 at concurrency {TARGET_CONCURRENCY} (issue 14)", p99, max_p99,
                            p99 <= max_p99, "ms"))
    for case in FETCH_CASES:
        for run in results["runs"]:
            if run["case"] == case and run["concurrency"] <= TARGET_CONCURRENCY:
                p99 = run["service"]["p99_ms"]
                found.append(Target(f"{case} p99 at concurrency {run['concurrency']}", p99, FETCH_P99_MS,
                                    p99 <= FETCH_P99_MS, "ms"))
    cost = results.get("text_cost", {}).get("coding", {}).get("median_ms")
    if cost is not None:  # issue 11: a 2 KB note, in process (CPU time), median
        found.append(Target("note-sign coding of a 2 KB note, in process (median CPU)", cost, MAX_NOTE_MS,
                            cost <= MAX_NOTE_MS, "ms"))
    rss = results.get("rss_mb", {}).get("service") or []
    if rss:
        found.append(Target("resident memory per worker (largest)", max(rss), MAX_WORKER_RSS_MB,
                            max(rss) <= MAX_WORKER_RSS_MB, "MB"))
    startup = results.get("startup_s", {}).get("service")
    if startup is not None:
        found.append(Target("start-up to first answered request", startup, MAX_STARTUP_S,
                            startup <= MAX_STARTUP_S, "s"))
    errors = sum(run["service"]["errors"] + run["baseline"]["errors"] + run.get("baseline_sync", {}).get("errors", 0)
                 for run in results["runs"])
    errors += sum(point["errors"] for point in results.get("scaling", []))
    found.append(Target("errors in every case", errors, 0, errors == 0))
    scaling = results.get("scaling") or []
    if scaling:
        largest = max(scaling, key=lambda p: p["resources"])
        found.append(Target(f"note-sign with {largest['resources']} resources, p99", largest["p99_ms"],
                            MAX_LARGE_ENCOUNTER_MS, largest["p99_ms"] <= MAX_LARGE_ENCOUNTER_MS, "ms"))
        ratio = results.get("scaling_growth", {}).get("last_to_first_slope_ratio")
        if ratio is not None:
            found.append(Target("latency growth per resource, last step / first step", ratio, MAX_SLOPE_RATIO,
                                ratio <= MAX_SLOPE_RATIO))
    return found


_EMPTY = {"throughput": 0.0, "p99_ms": 0.0, "errors": 0}


def _cpu(service: dict) -> str:
    value = service.get("cpu_ms_per_request")
    return f"{value:.2f}" if value is not None else "-"


def _row(cells: list[str], widths: list[int]) -> str:
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in pairs)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [_row(header, widths), _row(["-" * w for w in widths], widths)]
    lines.extend(_row(row, widths) for row in rows)
    return lines


def runs_table(results: dict) -> list[str]:
    header = ["case", "conc", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s",
              "gthread base req/s", "base p99 ms", "ratio", "sync base req/s", "sync p99 ms", "ratio sync",
              "CPU ms/req"]
    rows = []
    for run in results["runs"]:
        s, b, y = run["service"], run["baseline"], run.get("baseline_sync") or _EMPTY
        rows.append([run["case"], str(run["concurrency"]), str(s["requests"]),
                     str(s["errors"] + b["errors"] + y["errors"]),
                     f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}", f"{s['p99_ms']:.1f}", f"{s['throughput']:.0f}",
                     f"{b['throughput']:.0f}", f"{b['p99_ms']:.1f}", f"{run['ratio']:.2f}",
                     f"{y['throughput']:.0f}", f"{y['p99_ms']:.1f}", f"{run.get('ratio_sync', 0.0):.2f}",
                     _cpu(s)])
    return _table(header, rows)


def scaling_table(results: dict) -> list[str]:
    header = ["note-sign resources", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "request KiB"]
    rows = [[str(p["resources"]), str(p["requests"]), str(p["errors"]), f"{p['p50_ms']:.1f}", f"{p['p95_ms']:.1f}",
             f"{p['p99_ms']:.1f}", f"{p['body_bytes'] / 1024:.0f}"] for p in results.get("scaling", [])]
    return _table(header, rows)


def _model(settings: dict) -> str:
    kind = settings.get("worker_class", "gthread")
    if "." in kind:  # older result files name the class
        kind = "gthread"
    return f"gthread x {settings['threads']} threads" if kind == "gthread" else kind


def render(results: dict) -> str:
    st = results["settings"]
    lines = [f"machine: {results['machine']['nproc']} cores, {results['machine']['cpu']}, "
             f"Python {results['machine']['python']}; service: gunicorn {st['workers']} {_model(st)} workers; "
             f"baselines: the same, and {st['workers']} sync workers; {st['duration_s']} s per run", ""]
    lines += runs_table(results)
    if results.get("scaling"):
        lines += [""] + scaling_table(results)
        growth = results.get("scaling_growth", {})
        for slope in growth.get("slopes", []):
            lines.append(f"  {slope['from']} -> {slope['to']} resources: {slope['ms_per_resource'] * 1000:.1f} us "
                         "per extra resource")
    floor = results.get("fetch_floor")
    if floor:
        lines += ["", f"encounter-discharge: the FHIR server alone answers the {floor['queries']} queries of one "
                      f"call ({floor['resources']} resources, sent concurrently, no service) in "
                      f"p50 {floor['p50_ms']:.1f} ms, p95 {floor['p95_ms']:.1f} ms"]
    startup, rss = results.get("startup_s", {}), results.get("rss_mb", {})
    lines += ["", f"start-up to first answered request: service {startup.get('service')} s, "
                  f"baseline {startup.get('baseline')} s",
              f"resident memory per worker: service {rss.get('service')} MB (master {rss.get('service_master')} MB), "
              f"baseline {rss.get('baseline')} MB", ""]
    for target in results.get("targets", []):
        mark = "ok  " if target["met"] else "MISS"
        lines.append(f"{mark} {target['name']}: {target['value']}{target['unit']} (limit {target['limit']}"
                     f"{target['unit']})")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The result file as the Markdown tables of the README's performance section."""
    m, st = results["machine"], results["settings"]
    load = m.get("load_average_after") or m.get("load_average")
    lines = [f"{results['generated']}: {m['nproc']} cores ({m['cpu']}), Python {m['python']}, service under gunicorn "
             f"{st['workers']} {_model(st)} workers, {st['duration_s']:g} s per run, load average "
             f"{load[0]} after the run.", "",
             "| case | concurrency | p50 ms | p95 ms | p99 ms | req/s | errors | gthread baseline req/s "
             "| ours / gthread | sync baseline req/s | sync baseline p99 ms | ours / sync | worker CPU ms per call |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in results["runs"]:
        s, b, y = run["service"], run["baseline"], run.get("baseline_sync") or _EMPTY
        lines.append(f"| {run['case']} | {run['concurrency']} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | "
                     f"{s['p99_ms']:.1f} | {s['throughput']:.0f} | {s['errors'] + b['errors'] + y['errors']} | "
                     f"{b['throughput']:.0f} | {run['ratio']:.2f} | {y['throughput']:.0f} | {y['p99_ms']:.1f} | "
                     f"{run.get('ratio_sync', 0.0):.2f} | {_cpu(s)} |")
    if results.get("scaling"):
        lines += ["", "| note-sign, resources | p50 ms | p95 ms | p99 ms | errors |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {p['resources']} | {p['p50_ms']:.1f} | {p['p95_ms']:.1f} | {p['p99_ms']:.1f} | {p['errors']} |"
                  for p in results["scaling"]]
    floor, startup, rss = results.get("fetch_floor"), results.get("startup_s", {}), results.get("rss_mb", {})
    lines.append("")
    if floor:
        lines.append(f"The FHIR server alone answers the {floor['queries']} queries of one discharge call in "
                     f"p50 {floor['p50_ms']:.1f} ms.")
    lines.append(f"Start-up to the first answered call: {startup.get('service')} s (baseline "
                 f"{startup.get('baseline')} s). Resident memory per worker: {rss.get('service')} MB, gunicorn "
                 f"master {rss.get('service_master')} MB (baseline {rss.get('baseline')} MB).")
    lines += ["", "| target | measured | limit | |", "|---|---:|---:|---|"]
    lines += [f"| {t['name']} | {t['value']}{t['unit']} | {t['limit']}{t['unit']} | {'met' if t['met'] else 'MISSED'} |"
              for t in results.get("targets", [])]
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "latest.json"
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))
