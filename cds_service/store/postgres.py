"""PostgreSQL store, for deployments where several instances share one audit trail.

Each thread keeps one connection (psycopg 3, autocommit with explicit transactions), so a gunicorn worker
holds at most `threads` connections and no pool library is needed. A connection that breaks is dropped
and the operation is tried once more on a fresh one: every write is idempotent (ON CONFLICT DO NOTHING),
so a retry after an unknown outcome cannot store anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

import psycopg

from . import migrations
from .interface import StoreUnavailable
from .sql import SqlStore

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
# pg_advisory_xact_lock key that serialises schema migrations across every process using the database.
_MIGRATION_LOCK = 0x43445348  # "CDSH"


class PostgresStore(SqlStore):
    backend = "postgresql"

    def __init__(self, url: str):
        self.url = url
        self._start()

    # -- connections ------------------------------------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._closed:
            raise StoreUnavailable("store is closed")
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="cds-service",
        )
        # A SET rather than the `options` connection parameter, which would replace one given in the URL.
        conn.execute(f"SET statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        return self._track(conn)

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
            conn.close()

    @contextmanager
    def _transaction(self, write: bool, durable: bool = True) -> Iterator[psycopg.Cursor]:
        conn = self._connection()
        with conn.transaction(), conn.cursor() as cur:
            if not write:
                # One snapshot for all the report's queries (must come before any other statement).
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            if not durable:
                # The commit returns before the WAL flush; a server crash may lose the last such commits.
                cur.execute("SET LOCAL synchronous_commit = off")
            yield cur

    def _run(self, operation: Callable[[], T]) -> T:
        for attempt in (1, 2):
            try:
                return operation()
            except psycopg.OperationalError as exc:
                conn = getattr(self._local, "conn", None)
                lost = conn is None or conn.closed or conn.broken
                self._drop_connection()
                if attempt == 2 or not lost or self._closed:
                    raise StoreUnavailable(f"postgresql: {type(exc).__name__}") from exc
            except psycopg.Error as exc:
                raise StoreUnavailable(f"postgresql: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _migrate(self) -> None:
        with self._transaction(write=True) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
            cur.execute("SELECT version FROM schema_migrations")
            applied = {row[0] for row in cur.fetchall()}
            for migration in migrations.pending(migrations.POSTGRES, applied):
                for statement in migration.statements():
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, datetime.now(UTC)),
                )

    def schema_versions(self) -> list[int]:
        with self._transaction(write=False) as cur:
            cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [row[0] for row in cur.fetchall()]

    # -- instants ---------------------------------------------------------------------------------------
    def _instant(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def _read_instant(self, value: datetime) -> datetime:
        return value.astimezone(UTC)

