"""The on-disk stage of an audit: the export's resources keyed by patient, progress, and results.

One SQLite file in the output folder. Ingest appends rows (no index while loading), the patient index is
built once, and coding reads one patient at a time in patient order (an external sort done by SQLite), so
memory holds one patient, never the export. Results are stored per patient as they come back, which makes
`--resume` a matter of skipping patients already there (and files already read).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

STATE_FILE = ".audit-state.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    lines INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS resources (
    patient TEXT NOT NULL, type TEXT NOT NULL, file INTEGER NOT NULL, line INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS counts (
    file INTEGER NOT NULL, type TEXT NOT NULL, kept INTEGER NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS errors (file INTEGER NOT NULL, line INTEGER NOT NULL, error TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    patient TEXT PRIMARY KEY, encounters INTEGER NOT NULL, findings BLOB NOT NULL);
"""

# A resource row handed to a worker: (type, file id, line, raw JSON).
Row = tuple[str, int, int, bytes]


class Stage:
    def __init__(self, folder: Path, fresh: bool):
        self.path = folder / STATE_FILE
        if fresh and self.path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA temp_store=FILE")
        self.db.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- meta --------------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value))

    def keep_results_for(self, fingerprint: str) -> None:
        """Results coded with other rule packs or fees are dropped (their input rows are kept)."""
        if self.get("config") != fingerprint:
            self.db.execute("DELETE FROM results")
            self.put("config", fingerprint)

    # -- ingest ------------------------------------------------------------------------------------------
    def file_id(self, path: Path) -> tuple[int, bool]:
        """The file's id and whether it was read to the end before (same size and mtime)."""
        stat = path.stat()
        row = self.db.execute("SELECT id, size, mtime_ns, done FROM files WHERE path = ?", (str(path),)).fetchone()
        if row and row[1] == stat.st_size and row[2] == stat.st_mtime_ns and row[3]:
            return row[0], True
        if row:  # read in part (or changed since): forget what was staged from it, and what was coded
            self.forget_file(row[0])
            self.db.execute("DELETE FROM files WHERE id = ?", (row[0],))
            self.db.execute("DELETE FROM results")
        cur = self.db.execute("INSERT INTO files (path, size, mtime_ns) VALUES (?, ?, ?)",
                              (str(path), stat.st_size, stat.st_mtime_ns))
        return int(cur.lastrowid), False

    def forget_file(self, file_id: int) -> None:
        self.db.execute("DROP INDEX IF EXISTS resources_patient")
        for table in ("resources", "counts", "errors"):
            self.db.execute(f"DELETE FROM {table} WHERE file = ?", (file_id,))

    def add(self, rows: list[tuple[str, str, int, int, bytes]], errors: list[tuple[int, int, str]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO resources VALUES (?, ?, ?, ?, ?)", rows)
        self.db.executemany("INSERT INTO errors VALUES (?, ?, ?)", errors)
        self.db.execute("COMMIT")

    def finish_file(self, file_id: int, lines: int, counts: dict[tuple[str, bool], int]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO counts VALUES (?, ?, ?, ?)",
                            [(file_id, rtype, int(kept), n) for (rtype, kept), n in counts.items()])
        self.db.execute("UPDATE files SET lines = ?, done = 1 WHERE id = ?", (lines, file_id))
        self.db.execute("COMMIT")

    def build_index(self) -> None:
        self.db.execute("CREATE INDEX IF NOT EXISTS resources_patient ON resources (patient, file, line)")

    # -- reading back ------------------------------------------------------------------------------------
    def file_names(self) -> dict[int, str]:
        return {fid: Path(path).name for fid, path in self.db.execute("SELECT id, path FROM files")}

    def encounter_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM resources WHERE type = 'Encounter'").fetchone()[0]

    def patients(self, skip_done: bool = True) -> Iterator[tuple[str, list[Row]]]:
        """Each patient's rows, in patient order, one patient in memory at a time."""
        reader = sqlite3.connect(self.path)  # its own connection: results are written meanwhile
        try:
            cursor = reader.execute(
                "SELECT patient, type, file, line, body FROM resources ORDER BY patient, file, line")
            current: str | None = None
            rows: list[Row] = []
            for patient, rtype, file_id, line, body in cursor:
                if patient != current:
                    if current is not None and not (skip_done and self.is_done(current)):
                        yield current, rows
                    current, rows = patient, []
                rows.append((rtype, file_id, line, body))
            if current is not None and not (skip_done and self.is_done(current)):
                yield current, rows
        finally:
            reader.close()

    def is_done(self, patient: str) -> bool:
        return self.db.execute("SELECT 1 FROM results WHERE patient = ?", (patient,)).fetchone() is not None

    def save_results(self, results: list[tuple[str, int, bytes]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", results)
        self.db.execute("COMMIT")

    def done_encounters(self) -> int:
        return self.db.execute("SELECT coalesce(sum(encounters), 0) FROM results").fetchone()[0]

    def results(self) -> Iterator[tuple[str, int, bytes]]:
        reader = sqlite3.connect(self.path)
        try:
            yield from reader.execute("SELECT patient, encounters, findings FROM results ORDER BY patient")
        finally:
            reader.close()

    def errors(self) -> Iterator[tuple[str, int, str]]:
        names = self.file_names()
        for file_id, line, error in self.db.execute("SELECT file, line, error FROM errors ORDER BY file, line"):
            yield names.get(file_id, str(file_id)), line, error

    def input_counts(self) -> dict:
        names = self.file_names()
        files = {}
        for fid, lines in self.db.execute("SELECT id, lines FROM files ORDER BY id"):
            files[names[fid]] = {"lines": lines, "processed": 0, "errors": 0}
        types: dict[str, int] = {}
        ignored: dict[str, int] = {}
        for fid, rtype, kept, n in self.db.execute("SELECT file, type, kept, n FROM counts"):
            files[names[fid]]["processed"] += n
            target = types if kept else ignored
            target[rtype] = target.get(rtype, 0) + n
        for fid, n in self.db.execute("SELECT file, count(*) FROM errors GROUP BY file"):
            files[names[fid]]["errors"] = n
        return {
            "lines": sum(f["lines"] for f in files.values()),
            "processed": sum(f["processed"] for f in files.values()),
            "errors": sum(f["errors"] for f in files.values()),
            "byType": dict(sorted(types.items())),
            "ignoredTypes": dict(sorted(ignored.items())),
            "files": files,
        }
