"""Embedded SQLite store: one file, WAL, shared safely by several gunicorn workers and their threads.

Each thread has its own connection (sqlite3 connections must not be used by two threads at once). Writes
take the write lock up front (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock, and
wait up to `busy_timeout` for each other. Durable transactions (feedback, which is answered 200 only after
its commit) run with synchronous=FULL, so the commit survives a power cut, not only a killed process.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from . import migrations
from .interface import StoreUnavailable
from .sql import SqlStore

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000


class SqliteStore(SqlStore):
    backend = "sqlite"

    def __init__(self, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Threads of one worker queue here for the write lock: SQLite's busy handler would make them sleep
        # in growing steps (1, 2, 5, 10 ms...) instead, which showed in the p99 of concurrent hook calls.
        self._write_lock = threading.Lock()
        self._start()

    # -- connections ------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise StoreUnavailable("store is closed")
        # isolation_level=None: transactions are begun and ended explicitly below, never implicitly.
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            self._use_wal(conn)
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        self._local.synchronous = None  # the PRAGMA is set on first use (see _begin)
        return self._track(conn)

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is locked" at
        # once, without the busy handler, when two connections try together (as workers starting at the
        # same moment do). So wait here; once the file is in WAL mode the statement takes no lock.
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"{self.path}: the file system does not support SQLite WAL mode")

    @contextmanager
    def _transaction(self, write: bool, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        if not write:
            with self._begin(write, durable) as cur:
                yield cur
            return
        with self._write_lock, self._begin(write, durable) as cur:
            yield cur

    @contextmanager
    def _begin(self, write: bool, durable: bool) -> Iterator[sqlite3.Cursor]:
        conn = self._connection()
        # In WAL mode, FULL syncs the log at each commit; NORMAL only at checkpoints. A later FULL commit
        # syncs the earlier NORMAL ones with it.
        synchronous = "FULL" if durable else "NORMAL"
        if getattr(self._local, "synchronous", None) != synchronous:  # a statement saved on most calls
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._local.synchronous = synchronous
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn.cursor()
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _run(self, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {type(exc).__name__}: {exc}") from exc

    def _migrate(self) -> None:
        # BEGIN IMMEDIATE serialises workers that start together: the first applies, the others find it done.
        with self._transaction(write=True) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {row[0] for row in cur.execute("SELECT version FROM schema_migrations").fetchall()}
            for migration in migrations.pending(migrations.SQLITE, applied):
                for statement in migration.statements():
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, self._instant(datetime.now(UTC))),
                )

    def schema_versions(self) -> list[int]:
        with self._transaction(write=False) as cur:
            return [row[0] for row in cur.execute("SELECT version FROM schema_migrations ORDER BY version")]

    # -- instants ---------------------------------------------------------------------------------------
    def _instant(self, value: datetime) -> str:
        # Fixed width UTC text: string order is time order, so range queries work on the text.
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def _read_instant(self, value: str) -> datetime:
        return datetime.fromisoformat(value)

