"""Running an audit: stage the export, code patients in parallel (local processes or Dask), write outputs.

The coding loop keeps a bounded number of chunks in flight, so memory is a few chunks of patients whatever
the export's size. Ctrl-C stops it after the results already back are saved; `--resume` skips the files
and patients done before.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .fees import FeeSchedule
from .ingest import ingest_file
from .ndjson import input_files
from .outputs import write_outputs
from .progress import Progress
from .staging import Row, Stage
from .worker import AuditConfig, code_chunk

CHUNK_ROWS = 4000  # resources per task: large enough to amortise the hand-over, small enough to bound memory


@dataclass
class AuditOptions:
    inputs: list[Path]
    out: Path
    rule_packs: Path
    workers: int
    resume: bool = False
    fee_schedule: Path | None = None
    dask_scheduler: str | None = None


class Interrupted(Exception):
    """Ctrl-C: the work done so far is saved; `--resume` continues it."""


class _StopFlag:
    def __init__(self) -> None:
        self.stopped = False

    def __call__(self) -> bool:
        return self.stopped


def run_audit(options: AuditOptions, progress: Progress) -> dict:
    """Returns the summary. Raises Interrupted on Ctrl-C (outputs not written; the stage keeps the work)."""
    options.out.mkdir(parents=True, exist_ok=True)
    files = input_files(options.inputs)
    fees = FeeSchedule.read(options.fee_schedule) if options.fee_schedule else None
    stage = Stage(options.out, fresh=not options.resume)
    stage.keep_results_for(_fingerprint(options))
    stop = _StopFlag()
    previous = signal.signal(signal.SIGINT, lambda *_: setattr(stop, "stopped", True))
    try:
        _ingest(stage, files, progress, stop)
        config = AuditConfig(str(options.rule_packs), fees, stage.file_names())
        _code(stage, options, config, progress, stop)
        progress.start("write", "outputs", None)
        summary = write_outputs(stage, options.out, fees is not None)
        progress.close_phase()
        return summary
    finally:
        signal.signal(signal.SIGINT, previous)
        stage.close()


def _fingerprint(options: AuditOptions) -> str:
    """What the stored results depend on besides the input: a resume with other packs or fees starts coding
    again."""
    fees = options.fee_schedule
    fee_stamp = f"{fees.resolve()}:{fees.stat().st_mtime_ns}" if fees else ""
    packs = sorted((p.name, p.stat().st_mtime_ns) for p in Path(options.rule_packs).rglob("*.yaml"))
    return f"{Path(options.rule_packs).resolve()}|{packs}|{fee_stamp}"


def _ingest(stage: Stage, files: list[Path], progress: Progress, stop: _StopFlag) -> None:
    total = sum(f.stat().st_size for f in files)
    progress.start("read", "bytes", total)
    offsets: dict[Path, int] = {}

    def advance(path: Path, position: int, lines: int) -> None:
        progress.advance(position - offsets.get(path, 0), lines=lines)
        offsets[path] = position

    for path in files:
        if not ingest_file(stage, path, advance, stop) or stop():
            raise Interrupted
    progress.close_phase()
    stage.build_index()


def _chunks(patients: Iterator[tuple[str, list[Row]]]) -> Iterator[list[tuple[str, list[Row]]]]:
    chunk: list[tuple[str, list[Row]]] = []
    size = 0
    for patient, rows in patients:
        chunk.append((patient, rows))
        size += len(rows)
        if size >= CHUNK_ROWS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop


def _executor(options: AuditOptions) -> tuple[Executor, int, object]:
    if options.dask_scheduler:
        from distributed import Client

        client = Client(options.dask_scheduler, set_as_default=False)
        slots = max(1, sum(client.nthreads().values()))
        return client.get_executor(pure=False), slots, client
    return ProcessPoolExecutor(max_workers=options.workers, initializer=_ignore_sigint), options.workers, None


def _code(stage: Stage, options: AuditOptions, config: AuditConfig, progress: Progress, stop: _StopFlag) -> None:
    progress.start("code", "encounters", stage.encounter_count(), stage.done_encounters())
    executor, slots, client = _executor(options)
    in_flight: set[Future] = set()
    try:
        for chunk in _chunks(stage.patients()):
            if stop():
                break  # what is in flight is still saved below
            in_flight.add(executor.submit(code_chunk, chunk, config))
            if len(in_flight) >= 2 * slots:
                _collect(stage, progress, in_flight, FIRST_COMPLETED)
        _collect(stage, progress, in_flight, None)
        if stop():
            raise Interrupted
    finally:
        for future in in_flight:
            future.cancel()
        if client is None:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            executor.shutdown(wait=False)
            client.close()
    progress.close_phase()


def _collect(stage: Stage, progress: Progress, in_flight: set[Future], mode: str | None) -> None:
    done, _ = wait(in_flight, return_when=mode) if mode else wait(in_flight)
    for future in done:
        in_flight.discard(future)
        results = future.result()
        stage.save_results(results)
        progress.advance(sum(encounters for _, encounters, _ in results))


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
