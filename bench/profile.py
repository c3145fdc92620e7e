"""Where one hook call spends its time: pyinstrument around the note-sign case, in process.

    python -m bench.profile [--case note-sign|order-sign|encounter-discharge] [--resources 40] [--calls 300]
                            [--html out.html]

The app is built by the same factory as under gunicorn (development profile, no authentication) and
called through Flask's test client, so the profile holds the whole request path (body parsing,
validation, prefetch resolution, coding, response) without the network or gunicorn. The first calls
are made before profiling so that start-up work (rule packs, schemas) is not counted.
encounter-discharge reads its encounter from the loopback FHIR server (started here); the FHIR reads
run on the service's fetch threads, so the profile shows the request thread waiting for them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from pyinstrument import Profiler

from cds_service.app import create_app
from cds_service.config import Settings
from tests.infra import fhir_server

from .servers import SERVICE_ENV
from .workload import FIXTURES_DIR, BenchCall, discharge_call, find_fixture, padded_call

HOOKS = {"note-sign": "org.procedure-coding.note-sign", "order-sign": "order-sign",
         "encounter-discharge": "encounter-discharge"}
WARMUP_CALLS = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--case", choices=sorted(HOOKS), default="note-sign")
    parser.add_argument("--resources", type=int, default=40, help="resources in the request (default 40)")
    parser.add_argument("--calls", type=int, default=300, help="profiled calls (default 300)")
    parser.add_argument("--fixtures", type=Path, default=FIXTURES_DIR)
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    parser.add_argument("--interval", type=float, default=0.0002, help="sampling interval in seconds")
    args = parser.parse_args(argv)

    _, fixture = find_fixture(HOOKS[args.case], args.fixtures)
    with ExitStack() as stack:
        if args.case == "encounter-discharge":
            fhir = stack.enter_context(fhir_server.start())
            bench_call, encounter = discharge_call(fixture, args.resources, fhir.base_url)
            fhir.load(encounter)
        else:
            bench_call = padded_call(args.case, fixture, args.resources)
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="cds-profile-"))
        profiler, elapsed = profile(bench_call, Path(work), args.calls, args.interval)
    print(f"{args.case}, {bench_call.resources} resources, {len(bench_call.body())} bytes: "
          f"{elapsed / args.calls * 1000:.2f} ms per call in process (profiler on)", file=sys.stderr)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
    return 0


def profile(bench_call: BenchCall, work: Path, calls: int, interval: float) -> tuple[Profiler, float]:
    """``calls`` hook calls through the app's test client under pyinstrument, after a warm-up."""
    body = bench_call.body()
    settings = Settings.from_env({**SERVICE_ENV, "CDS_SQLITE_PATH": str(work / "cds.sqlite3")})
    client = create_app(settings).test_client()

    def call() -> None:
        response = client.post(bench_call.path, data=body, content_type="application/json")
        if response.status_code != 200:
            raise SystemExit(f"{bench_call.path} answered {response.status_code}: {response.get_data()[:500]!r}")

    for _ in range(WARMUP_CALLS):
        call()
    profiler = Profiler(interval=interval)
    started = time.perf_counter()
    profiler.start()
    for _ in range(calls):
        call()
    profiler.stop()
    return profiler, time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
