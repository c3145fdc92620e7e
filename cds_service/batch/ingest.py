"""Reading the export into the stage: every non-blank line is either staged, counted as a type the audit
does not read, or listed as an error with its file and line (never fatal, never silently dropped)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from .ndjson import NdjsonReader
from .routing import Unroutable, patient_of
from .staging import Stage

BATCH = 5000

# progress(file, bytes of the file read so far, lines read since the last call)
Progress = Callable[[Path, int, int], None]


def ingest_file(stage: Stage, path: Path, progress: Progress, stop: Callable[[], bool]) -> bool:
    """Stage one file (skipped when it was read to the end before). False when stopped part-way."""
    file_id, done = stage.file_id(path)
    if done:
        progress(path, path.stat().st_size, 0)
        return True
    rows: list[tuple[str, str, int, int, bytes]] = []
    errors: list[tuple[int, int, str]] = []
    counts: dict[tuple[str, bool], int] = {}
    lines = 0
    with NdjsonReader(path) as reader:
        try:
            for number, line in reader.lines():
                lines += 1
                _route(line, number, file_id, rows, errors, counts)
                if len(rows) + len(errors) >= BATCH:
                    stage.add(rows, errors)
                    progress(path, reader.position, len(rows) + len(errors))
                    rows, errors = [], []
                    if stop():
                        return False
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream: what was read counts
            lines += 1  # the break is listed as one error line, so that lines = processed + errors still holds
            errors.append((file_id, lines, f"file unreadable from this line on: {exc}"))
        stage.add(rows, errors)
        progress(path, reader.position, len(rows) + len(errors))
    stage.finish_file(file_id, lines, counts)
    return True


def _route(line: bytes, number: int, file_id: int, rows: list, errors: list, counts: dict) -> None:
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        errors.append((file_id, number, f"not JSON: {exc}"))
        return
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        errors.append((file_id, number, "not a FHIR resource (no resourceType)"))
        return
    rtype = resource["resourceType"]
    try:
        patient = patient_of(resource)
    except Unroutable as exc:
        errors.append((file_id, number, str(exc)))
        return
    counts[(rtype, patient is not None)] = counts.get((rtype, patient is not None), 0) + 1
    if patient is not None:
        rows.append((patient, rtype, file_id, number, line))
