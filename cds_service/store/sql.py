"""The SQL both backends share: writing calls, cards and feedback, and the per-rule report.

Queries are written with `?` placeholders; a backend that uses another style rewrites them. Every write is
one transaction that is committed before the method returns, so a caller that got an answer can rely on it.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, TypeVar

from .records import (
    CallRecord,
    FeedbackItem,
    OverrideReasonCount,
    RuleReport,
    StoredFeedback,
)

T = TypeVar("T")
TOP_OVERRIDE_REASONS = 3
# Cards whose extension named no rule, and feedback on cards this store never issued (another database,
# or issued before the audit trail existed), are reported under these names.
NO_RULE = "(no rule)"
UNKNOWN_CARD = "(card not in audit trail)"

_INSERT_CALL = """
    INSERT INTO hook_calls (service_id, hook_instance, hook, called_at, card_count)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""
_INSERT_CARD = """
    INSERT INTO cards (card_uuid, service_id, hook_instance, issued_at, subject, rule,
                       not_separately_billable, documentation_gaps)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""
_INSERT_LINE = """
    INSERT INTO card_lines (card_uuid, position, code, modifiers, units)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""
_INSERT_FEEDBACK = """
    INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp, accepted_suggestions,
                          reason_system, reason_code, reason_display, has_comment, received_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
"""
_ISSUED = "SELECT rule, COUNT(*) FROM cards WHERE issued_at >= ? GROUP BY rule"
_OUTCOMES = """
    SELECT c.rule, f.outcome, COUNT(DISTINCT f.card_uuid)
    FROM feedback f JOIN cards c ON c.card_uuid = f.card_uuid
    WHERE c.issued_at >= ?
    GROUP BY c.rule, f.outcome
"""
_OVERRIDE_REASONS = """
    SELECT c.rule, f.reason_system, f.reason_code, MAX(f.reason_display), COUNT(*), SUM(f.has_comment)
    FROM feedback f JOIN cards c ON c.card_uuid = f.card_uuid
    WHERE f.outcome = 'overridden' AND c.issued_at >= ?
    GROUP BY c.rule, f.reason_system, f.reason_code
"""
_UNKNOWN_CARD_OUTCOMES = """
    SELECT f.outcome, COUNT(DISTINCT f.card_uuid)
    FROM feedback f LEFT JOIN cards c ON c.card_uuid = f.card_uuid
    WHERE c.card_uuid IS NULL AND f.received_at >= ?
    GROUP BY f.outcome
"""
_UNKNOWN_CARD_REASONS = """
    SELECT f.reason_system, f.reason_code, MAX(f.reason_display), COUNT(*), SUM(f.has_comment)
    FROM feedback f LEFT JOIN cards c ON c.card_uuid = f.card_uuid
    WHERE c.card_uuid IS NULL AND f.outcome = 'overridden' AND f.received_at >= ?
    GROUP BY f.reason_system, f.reason_code
"""
_FEEDBACK_LOG = """
    SELECT service_id, card_uuid, outcome, outcome_timestamp, accepted_suggestions, reason_system,
           reason_code, has_comment
    FROM feedback WHERE received_at >= ? ORDER BY id
"""
# A jti is remembered until its token expires; a row whose token has expired may be taken again.
_UPSERT_JTI = """
    INSERT INTO jti_seen (iss, jti, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE jti_seen.expires_at < ?
"""
_PURGE_JTI = "DELETE FROM jti_seen WHERE expires_at < ?"
# Expired jti rows are deleted once every this many first uses (the table stays small).
_PURGE_JTI_EVERY = 256
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


class SqlStore(ABC):
    backend = "sql"
    _jti_uses = 0

    # -- lifecycle: one connection per thread, all tracked so that close() closes them -----------------
    def _start(self) -> None:
        """Set up connection tracking, then bring the schema up to date (closing again if that fails)."""
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            self._run(self._migrate)
        except BaseException:
            self.close()
            raise

    def _track(self, conn: Any) -> Any:
        """Make `conn` this thread's connection."""
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    @abstractmethod
    def _migrate(self) -> None:
        """Apply the pending migrations of this backend, once even when several workers start together."""

    # -- what a backend provides ---------------------------------------------------------------------
    @abstractmethod
    def _transaction(self, write: bool, durable: bool = True) -> AbstractContextManager[Any]:
        """A cursor inside one transaction, committed when the block ends without an exception.

        `durable=False` lets the commit return before the log reaches the disk: the rows survive the
        process being killed but not the machine losing power. The audit write on the hook path uses it
        (it costs about 10x less than a flushed commit); feedback, which answers 200 on commit, does not.
        """

    @abstractmethod
    def _run(self, operation: Callable[[], T]) -> T:
        """Run an operation, turning backend errors into StoreUnavailable (and retrying where safe)."""

    def _sql(self, text: str) -> str:
        return text

    @abstractmethod
    def _instant(self, value: datetime) -> Any:
        """A UTC instant as the backend stores it."""

    @abstractmethod
    def _read_instant(self, value: Any) -> datetime: ...

    # -- writes ---------------------------------------------------------------------------------------
    def record_call(self, call: CallRecord) -> None:
        self.record_calls([call])

    def record_calls(self, calls: Sequence[CallRecord]) -> None:
        # One transaction for a batch (the audit writer's group commit): one commit instead of one per call.
        self._run(lambda: self._record_calls(calls))

    def _record_calls(self, calls: Sequence[CallRecord]) -> None:
        with self._transaction(write=True, durable=False) as cur:
            for call in calls:
                self._insert_call(cur, call)

    def _insert_call(self, cur: Any, call: CallRecord) -> None:
        called_at = self._instant(call.called_at)
        cur.execute(
            self._sql(_INSERT_CALL), (call.service_id, call.hook_instance, call.hook, called_at, call.card_count)
        )
        if cur.rowcount == 0:
            # A hookInstance seen before (a client's retry, maybe answered by another instance, whose cards
            # carry new uuids) keeps its first record: the report counts each hook call's cards once.
            return
        for card in call.cards:
            cur.execute(
                self._sql(_INSERT_CARD),
                (
                    card.uuid, call.service_id, call.hook_instance, called_at, card.subject, card.rule,
                    _json_list(card.not_separately_billable), _json_list(card.documentation_gaps),
                ),
            )
            if cur.rowcount == 0:
                continue  # a card uuid seen before keeps its first record
            for position, line in enumerate(card.lines):
                cur.execute(
                    self._sql(_INSERT_LINE),
                    (card.uuid, position, line.code, _json_list(line.modifiers), line.units),
                )

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        return self._run(lambda: self._first_use(iss, jti, expires_at))

    def _first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        now = time.time()
        self._jti_uses += 1  # approximate across threads: it only paces the purge
        with self._transaction(write=True, durable=False) as cur:
            cur.execute(self._sql(_UPSERT_JTI), (iss, jti, expires_at, now))
            first = cur.rowcount == 1
            if self._jti_uses % _PURGE_JTI_EVERY == 0:
                cur.execute(self._sql(_PURGE_JTI), (now,))
        return first

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        return self._run(lambda: self._record_feedback(service_id, items))

    def _record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        received_at = self._instant(datetime.now(UTC))
        stored = 0
        with self._transaction(write=True) as cur:
            for item in items:
                cur.execute(
                    self._sql(_INSERT_FEEDBACK),
                    (
                        service_id, item.card, item.outcome, self._instant(item.outcome_timestamp),
                        _json_list(item.accepted_suggestions), item.reason_system, item.reason_code,
                        item.reason_display, int(item.has_comment), received_at,
                    ),
                )
                stored += cur.rowcount
        return stored

    # -- reads ----------------------------------------------------------------------------------------
    def ping(self) -> None:
        """One round trip to the database (readiness); raises StoreUnavailable when it does not answer."""
        self._run(self._ping)

    def _ping(self) -> None:
        with self._transaction(write=False) as cur:
            cur.execute("SELECT 1")
            cur.fetchall()

    def report(self, since: datetime | None = None) -> list[RuleReport]:
        return self._run(lambda: self._report(since or _BEGINNING))

    def _report(self, since: datetime) -> list[RuleReport]:
        after = (self._instant(since),)
        with self._transaction(write=False) as cur:
            issued = self._rows(cur, _ISSUED, after)
            outcomes = self._rows(cur, _OUTCOMES, after)
            reasons = self._rows(cur, _OVERRIDE_REASONS, after)
            unknown_outcomes = self._rows(cur, _UNKNOWN_CARD_OUTCOMES, after)
            unknown_reasons = self._rows(cur, _UNKNOWN_CARD_REASONS, after)

        counts: dict[str, dict[str, int]] = defaultdict(lambda: {"issued": 0, "accepted": 0, "overridden": 0})
        for rule, count in issued:
            counts[rule or NO_RULE]["issued"] = int(count)
        for rule, outcome, count in outcomes:
            counts[rule or NO_RULE][outcome] = int(count)
        for outcome, count in unknown_outcomes:
            counts[UNKNOWN_CARD][outcome] = int(count)
        by_rule: dict[str, list[OverrideReasonCount]] = defaultdict(list)
        for rule, *reason in reasons:
            by_rule[rule or NO_RULE].append(_reason_count(*reason))
        for reason in unknown_reasons:
            by_rule[UNKNOWN_CARD].append(_reason_count(*reason))

        return sorted(
            (
                RuleReport(
                    rule=rule,
                    issued=n["issued"],
                    accepted=n["accepted"],
                    overridden=n["overridden"],
                    top_override_reasons=tuple(
                        sorted(by_rule[rule], key=lambda r: (-r.count, r.system, r.code))[:TOP_OVERRIDE_REASONS]
                    ),
                )
                for rule, n in counts.items()
            ),
            key=lambda row: (row.rule == UNKNOWN_CARD, -row.issued, row.rule),
        )

    def feedback_log(self, since: datetime | None = None) -> list[StoredFeedback]:
        return self._run(lambda: self._feedback_log(since or _BEGINNING))

    def _feedback_log(self, since: datetime) -> list[StoredFeedback]:
        with self._transaction(write=False) as cur:
            rows = self._rows(cur, _FEEDBACK_LOG, (self._instant(since),))
        return [
            StoredFeedback(
                service_id=service_id,
                card=card,
                outcome=outcome,
                outcome_timestamp=self._read_instant(timestamp),
                accepted_suggestions=tuple(json.loads(accepted)),
                reason_system=system,
                reason_code=code,
                has_comment=bool(has_comment),
            )
            for service_id, card, outcome, timestamp, accepted, system, code, has_comment in rows
        ]

    def _rows(self, cur: Any, query: str, params: tuple) -> list[tuple]:
        cur.execute(self._sql(query), params)
        return [tuple(row) for row in cur.fetchall()]


def _reason_count(system: str, code: str, display: str | None, count: int, with_comment: int) -> OverrideReasonCount:
    # Overrides without a reason are kept with an empty code and system, and reported as such.
    return OverrideReasonCount(system, code, display, int(count), int(with_comment or 0))

