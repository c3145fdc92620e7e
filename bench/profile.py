"""Where one hook call spends its time: pyinstrument around the note-sign case, in process.

    python -m bench.profile [--resources 40] [--calls 300] [--case note-sign] [--html out.html]

The app is built by the same factory as under gunicorn (development profile, no authentication) and
called through Flask's test client, so the profile holds the whole request path (body parsing,
validation, prefetch resolution, coding, response) without the network or gunicorn. The first calls
are made before profiling so that start-up work (rule packs, schemas) is not counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler

from cds_service.app import create_app
from cds_service.config import Settings

from .servers import SERVICE_ENV
from .workload import FIXTURES_DIR, find_fixture, padded_call

HOOKS = {"note-sign": "org.procedure-coding.note-sign", "order-sign": "order-sign"}
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
    bench_call = padded_call(args.case, fixture, args.resources)
    body = bench_call.body()
    with tempfile.TemporaryDirectory(prefix="cds-profile-") as work:
        settings = Settings.from_env({**SERVICE_ENV, "CDS_SQLITE_PATH": str(Path(work) / "cds.sqlite3")})
        client = create_app(settings).test_client()

        def call() -> None:
            response = client.post(bench_call.path, data=body, content_type="application/json")
            if response.status_code != 200:
                raise SystemExit(f"{bench_call.path} answered {response.status_code}: {response.get_data()[:500]!r}")

        for _ in range(WARMUP_CALLS):
            call()
        profiler = Profiler(interval=args.interval)
        started = time.perf_counter()
        profiler.start()
        for _ in range(args.calls):
            call()
        profiler.stop()
        elapsed = time.perf_counter() - started

    print(f"{args.case}, {bench_call.resources} resources, {len(body)} bytes: "
          f"{elapsed / args.calls * 1000:.2f} ms per call in process (profiler on)", file=sys.stderr)
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
