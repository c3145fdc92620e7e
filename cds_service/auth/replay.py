"""Replay store: a token's `jti` is accepted once per issuer while the token is alive, across all workers.

gunicorn workers are separate processes, so the memory of seen `jti`s lives in a database: a small SQLite
file next to the configured SQLite path, or a table in PostgreSQL when DATABASE_URL is set. One atomic
insert decides: whoever inserts (iss, jti) first wins; a row whose token has expired may be reused.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from ..config import Settings

log = logging.getLogger(__name__)

# Expired rows are deleted once every this many insertions (cheap: the table stays small).
_PURGE_EVERY = 256


class ReplayStoreError(Exception):
    """The replay store cannot answer; authentication must fail closed."""


class ReplayStore(Protocol):
    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record (iss, jti) until expires_at (epoch seconds); False when it was already recorded and alive."""
        ...


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS jti_seen (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (iss, jti)
) WITHOUT ROWID
"""
_UPSERT = (
    "INSERT INTO {table} (iss, jti, expires_at) VALUES ({p}, {p}, {p}) "
    "ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE {table}.expires_at < {p}"
)


class SqliteReplayStore:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._inserts = 0

    def _connection(self) -> sqlite3.Connection:
        # Opened lazily and per process: a connection must never cross a fork (gunicorn --preload).
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SQLITE_SCHEMA)
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        with self._lock:
            try:
                conn = self._connection()
                inserted = conn.execute(_UPSERT.format(table="jti_seen", p="?"), (iss, jti, expires_at, now)).rowcount
                self._inserts += 1
                if self._inserts % _PURGE_EVERY == 0:
                    conn.execute("DELETE FROM jti_seen WHERE expires_at < ?", (now,))
            except sqlite3.Error as exc:
                self._conn = None
                raise ReplayStoreError(f"SQLite: {type(exc).__name__}") from None
        return inserted == 1


_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS cds_jti_seen (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (iss, jti)
)
"""


class PostgresReplayStore:
    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._conn = None
        self._pid = 0
        self._inserts = 0

    def _connection(self):
        import psycopg  # imported here so SQLite-only deployments never load the driver

        if self._conn is None or self._conn.closed or self._pid != os.getpid():
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
            try:
                conn.execute(_PG_SCHEMA)
            except psycopg.errors.UniqueViolation:
                pass  # another worker created the table at the same moment
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        import psycopg

        now = time.time()
        with self._lock:
            try:
                conn = self._connection()
                cursor = conn.execute(_UPSERT.format(table="cds_jti_seen", p="%s"), (iss, jti, expires_at, now))
                inserted = cursor.rowcount
                self._inserts += 1
                if self._inserts % _PURGE_EVERY == 0:
                    conn.execute("DELETE FROM cds_jti_seen WHERE expires_at < %s", (now,))
            except psycopg.Error as exc:
                self._conn = None
                raise ReplayStoreError(f"PostgreSQL: {type(exc).__name__}") from None
        return inserted == 1


def replay_store_for(settings: Settings) -> ReplayStore:
    if settings.database_url:
        return PostgresReplayStore(settings.database_url)
    path = settings.sqlite_path
    return SqliteReplayStore(path.with_name(f"{path.stem}.jti{path.suffix or '.sqlite3'}"))
