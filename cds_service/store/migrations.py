"""Versioned schema migrations, one numbered list per backend.

A migration is never edited once released: later changes come as a new number. Both backends keep the
same tables and columns; they differ only in types (SQLite stores instants as ISO 8601 UTC text, which
sorts in time order; PostgreSQL uses timestamptz).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        # Statements are split here rather than with sqlite3's executescript, which commits first and
        # would break the one transaction a migration runs in.
        return [part.strip() for part in self.sql.split(";") if part.strip()]


SQLITE: tuple[Migration, ...] = (
    Migration(
        1,
        "audit trail and feedback",
        """
        CREATE TABLE hook_calls (
            service_id    TEXT NOT NULL,
            hook_instance TEXT NOT NULL,
            hook          TEXT NOT NULL,
            called_at     TEXT NOT NULL,
            card_count    INTEGER NOT NULL,
            PRIMARY KEY (service_id, hook_instance)
        );
        CREATE INDEX hook_calls_called_at ON hook_calls (called_at);

        CREATE TABLE cards (
            card_uuid               TEXT PRIMARY KEY,
            service_id              TEXT NOT NULL,
            hook_instance           TEXT NOT NULL,
            issued_at               TEXT NOT NULL,
            subject                 TEXT,
            rule                    TEXT,
            not_separately_billable TEXT NOT NULL,
            documentation_gaps      TEXT NOT NULL
        );
        CREATE INDEX cards_rule_issued_at ON cards (rule, issued_at);
        CREATE INDEX cards_issued_at ON cards (issued_at);

        CREATE TABLE card_lines (
            card_uuid TEXT NOT NULL REFERENCES cards (card_uuid),
            position  INTEGER NOT NULL,
            code      TEXT NOT NULL,
            modifiers TEXT NOT NULL,
            units     INTEGER NOT NULL,
            PRIMARY KEY (card_uuid, position)
        );

        CREATE TABLE feedback (
            id                   INTEGER PRIMARY KEY,
            service_id           TEXT NOT NULL,
            card_uuid            TEXT NOT NULL,
            outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
            outcome_timestamp    TEXT NOT NULL,
            accepted_suggestions TEXT NOT NULL,
            reason_system        TEXT NOT NULL,
            reason_code          TEXT NOT NULL,
            reason_display       TEXT,
            has_comment          INTEGER NOT NULL,
            received_at          TEXT NOT NULL,
            UNIQUE (service_id, card_uuid, outcome, outcome_timestamp, accepted_suggestions,
                    reason_system, reason_code)
        );
        CREATE INDEX feedback_card_uuid ON feedback (card_uuid);
        CREATE INDEX feedback_received_at ON feedback (received_at)
        """,
    ),
    Migration(
        2,
        "token replay memory (jti)",
        """
        CREATE TABLE jti_seen (
            iss        TEXT NOT NULL,
            jti        TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (iss, jti)
        );
        CREATE INDEX jti_seen_expires_at ON jti_seen (expires_at)
        """,
    ),
)

POSTGRES: tuple[Migration, ...] = (
    Migration(
        1,
        "audit trail and feedback",
        """
        CREATE TABLE hook_calls (
            service_id    TEXT NOT NULL,
            hook_instance TEXT NOT NULL,
            hook          TEXT NOT NULL,
            called_at     TIMESTAMPTZ NOT NULL,
            card_count    INTEGER NOT NULL,
            PRIMARY KEY (service_id, hook_instance)
        );
        CREATE INDEX hook_calls_called_at ON hook_calls (called_at);

        CREATE TABLE cards (
            card_uuid               TEXT PRIMARY KEY,
            service_id              TEXT NOT NULL,
            hook_instance           TEXT NOT NULL,
            issued_at               TIMESTAMPTZ NOT NULL,
            subject                 TEXT,
            rule                    TEXT,
            not_separately_billable TEXT NOT NULL,
            documentation_gaps      TEXT NOT NULL
        );
        CREATE INDEX cards_rule_issued_at ON cards (rule, issued_at);
        CREATE INDEX cards_issued_at ON cards (issued_at);

        CREATE TABLE card_lines (
            card_uuid TEXT NOT NULL REFERENCES cards (card_uuid),
            position  INTEGER NOT NULL,
            code      TEXT NOT NULL,
            modifiers TEXT NOT NULL,
            units     INTEGER NOT NULL,
            PRIMARY KEY (card_uuid, position)
        );

        CREATE TABLE feedback (
            id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            service_id           TEXT NOT NULL,
            card_uuid            TEXT NOT NULL,
            outcome              TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
            outcome_timestamp    TIMESTAMPTZ NOT NULL,
            accepted_suggestions TEXT NOT NULL,
            reason_system        TEXT NOT NULL,
            reason_code          TEXT NOT NULL,
            reason_display       TEXT,
            has_comment          INTEGER NOT NULL,
            received_at          TIMESTAMPTZ NOT NULL,
            UNIQUE (service_id, card_uuid, outcome, outcome_timestamp, accepted_suggestions,
                    reason_system, reason_code)
        );
        CREATE INDEX feedback_card_uuid ON feedback (card_uuid);
        CREATE INDEX feedback_received_at ON feedback (received_at)
        """,
    ),
    Migration(
        2,
        "token replay memory (jti)",
        """
        CREATE TABLE jti_seen (
            iss        TEXT NOT NULL,
            jti        TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (iss, jti)
        );
        CREATE INDEX jti_seen_expires_at ON jti_seen (expires_at)
        """,
    ),
)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer build; running an older one against it could corrupt it."""


def pending(migrations: tuple[Migration, ...], applied: set[int]) -> list[Migration]:
    """Migrations still to apply, in order; refuses a database migrated by a newer build."""
    known = {migration.version for migration in migrations}
    unknown = sorted(applied - known)
    if unknown:
        raise SchemaTooNew(f"database schema has versions {unknown} that this build does not know; upgrade it")
    return [migration for migration in sorted(migrations, key=lambda m: m.version) if migration.version not in applied]
