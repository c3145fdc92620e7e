"""The store on both backends: migrations, idempotent feedback, the audit trail, the report, concurrency."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from cds_service.config import Settings
from cds_service.store import StoreUnavailable, open_store
from cds_service.store.migrations import SchemaTooNew
from cds_service.store.records import CallRecord, FeedbackItem, call_record
from cds_service.store.sql import NO_RULE, UNKNOWN_CARD
from tests.store.sample_cards import coding_card

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REASONS = "http://example.org/override-reasons"
TABLES = ("hook_calls", "cards", "card_lines", "feedback")


def issue(store, rule: str, *uuids: str, at: datetime = T0, hook_instance: str | None = None) -> CallRecord:
    call = {"hookInstance": hook_instance or f"h-{uuids[0]}", "hook": "order-sign"}
    record = call_record("procedure-coding-order-sign", call, [coding_card(u, rule=rule) for u in uuids], at)
    store.record_call(record)
    return record


def accepted(card: str, minute: int = 0, suggestion: str = "s-1") -> FeedbackItem:
    return FeedbackItem(card, "accepted", T0 + timedelta(minutes=minute), accepted_suggestions=(suggestion,))


def overridden(card: str, code: str = "", minute: int = 0, comment: bool = False, display=None) -> FeedbackItem:
    return FeedbackItem(
        card, "overridden", T0 + timedelta(minutes=minute), reason_system=REASONS if code else "", reason_code=code,
        reason_display=display, has_comment=comment,
    )


def stored_text(store) -> str:
    """Every value of every audit and feedback row, as one string."""
    values = []
    with store._transaction(write=False) as cur:
        for table in TABLES:
            cur.execute(f"SELECT * FROM {table}")
            values.extend(str(value) for row in cur.fetchall() for value in row)
    return "\n".join(values)


def test_schema_is_migrated_once_even_when_many_open_it_together(new_backend_settings):
    # Like gunicorn workers starting at the same moment on a new database; several rounds, since it is a race.
    for _ in range(6):
        settings = new_backend_settings()
        barrier = threading.Barrier(8)

        def open_and_close(settings=settings, barrier=barrier) -> list[int]:
            barrier.wait()
            store = open_store(settings)
            try:
                return store.schema_versions()
            finally:
                store.close()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: open_and_close(), range(8)))
        assert results == [[1, 2]] * 8


def test_a_database_migrated_by_a_newer_build_is_refused(store, backend_settings):
    with store._transaction(write=True) as cur:
        cur.execute(store._sql("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
                    (99, "from the future", store._instant(T0)))
    with pytest.raises(SchemaTooNew, match=r"\[99\]"):
        open_store(backend_settings)


def test_the_same_feedback_posted_twice_is_stored_once(store):
    items = [accepted("c-1"), overridden("c-2", "not-indicated", comment=True)]
    assert store.record_feedback("svc", items) == 2
    assert store.record_feedback("svc", items) == 0
    # The same instant written in another offset, and the same item twice in one post, are still one.
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    same_instant = FeedbackItem("c-1", "accepted", plus_two, accepted_suggestions=("s-1",))
    assert store.record_feedback("svc", [same_instant, same_instant]) == 0
    assert [(f.card, f.outcome) for f in store.feedback_log()] == [("c-1", "accepted"), ("c-2", "overridden")]


def test_distinct_feedback_on_one_card_is_kept_apart(store):
    items = [
        accepted("c-1", minute=0),
        accepted("c-1", minute=1),  # reported again later: the spec allows it
        accepted("c-1", minute=0, suggestion="s-2"),
        overridden("c-1", "not-indicated", minute=0),
        overridden("c-1", "already-coded", minute=0),
        overridden("c-1", minute=0),  # no reason: allowed
    ]
    assert store.record_feedback("svc", items) == len(items)
    log = store.feedback_log()
    assert len(log) == len(items)
    assert log[0].outcome_timestamp == T0 and log[0].accepted_suggestions == ("s-1",)


def test_audit_trail_keeps_ids_and_codes_and_nothing_else(store):
    issue(store, "pleural/thoracentesis-imaging", "c-1", "c-2")
    text = stored_text(store)
    for expected in ("c-1", "Procedure/p1", "pleural/thoracentesis-imaging", "32555", "RT", "76942", "fluid-volume"):
        assert expected in text
    assert "Jane" not in text and "1200 mL" not in text and "Thoracentesis for" not in text


def test_a_call_recorded_twice_is_kept_once(store):
    first = issue(store, "rule/a", "c-1", "c-2")
    store.record_call(first)
    assert store.report()[0].issued == 2
    with store._transaction(write=False) as cur:
        cur.execute("SELECT COUNT(*) FROM hook_calls")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT COUNT(*) FROM card_lines")
        assert cur.fetchone()[0] == 2


def test_report_counts_per_rule_and_ranks_override_reasons(store):
    issue(store, "rule/a", "a1", "a2", "a3", "a4")
    issue(store, "rule/b", "b1", "b2")
    store.record_feedback("svc", [
        accepted("a1"), accepted("a1", minute=5),  # one card accepted twice counts once
        accepted("a2"),
        overridden("a3", "not-indicated", display="Not indicated", comment=True),
        overridden("a4", "not-indicated", comment=False), overridden("a4", "already-coded", minute=1),
        overridden("b1"),
        accepted("zz-unknown"), overridden("zz-unknown", "not-indicated", comment=True),
    ])
    rows = {row.rule: row for row in store.report()}
    a, b, unknown = rows["rule/a"], rows["rule/b"], rows[UNKNOWN_CARD]
    assert (a.issued, a.accepted, a.overridden) == (4, 2, 2)
    assert a.acceptance_rate == pytest.approx(0.5)
    top = [(r.code, r.count, r.with_comment, r.display) for r in a.top_override_reasons]
    assert top == [("not-indicated", 2, 1, "Not indicated"), ("already-coded", 1, 0, None)]
    assert (b.issued, b.accepted, b.overridden, b.acceptance_rate) == (2, 0, 1, 0.0)
    assert [(r.code, r.system, r.count) for r in b.top_override_reasons] == [("", "", 1)]
    assert (unknown.issued, unknown.accepted, unknown.overridden, unknown.acceptance_rate) == (0, 1, 1, None)
    assert list(rows)[-1] == UNKNOWN_CARD


def test_report_since_counts_only_cards_issued_from_then(store):
    issue(store, "rule/a", "old", at=T0 - timedelta(days=10))
    issue(store, "rule/a", "new", at=T0)
    store.record_call(call_record("svc", {"hookInstance": "h-x", "hook": "order-sign"},
                                  [{"uuid": "no-ext", "summary": "s", "indicator": "info"}], T0))
    store.record_feedback("svc", [accepted("old"), overridden("new", "x")])
    everything = {row.rule: row for row in store.report()}
    assert everything["rule/a"].issued == 2 and everything[NO_RULE].issued == 1
    recent = {row.rule: row for row in store.report(since=T0 - timedelta(days=1))}
    assert (recent["rule/a"].issued, recent["rule/a"].accepted, recent["rule/a"].overridden) == (1, 0, 1)
    assert store.report(since=T0 + timedelta(days=1)) == [
        row for row in store.report(since=T0 + timedelta(days=1)) if row.rule == UNKNOWN_CARD
    ]


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(store):
    # 8 threads each write 40 own items plus 10 items every thread writes: 8 * 40 + 10 distinct.
    def writer(thread: int) -> int:
        new = 0
        for i in range(50):
            card = f"shared-{i}" if i % 5 == 0 else f"t{thread}-{i}"
            new += store.record_feedback("svc", [accepted(card)])
        return new

    with ThreadPoolExecutor(8) as pool:
        new_counts = list(pool.map(writer, range(8)))
    assert sum(new_counts) == 8 * 40 + 10
    cards = [f.card for f in store.feedback_log()]
    assert len(cards) == len(set(cards)) == 8 * 40 + 10


def test_closed_store_refuses_work(store):
    store.close()
    with pytest.raises(StoreUnavailable):
        store.record_feedback("svc", [accepted("c-1")])


@pytest.mark.postgres
def test_postgres_store_reconnects_after_the_server_drops_its_connection(postgres_cluster):
    store = open_store(Settings(database_url=postgres_cluster.create_schema()))
    try:
        assert store.record_feedback("svc", [accepted("c-1")]) == 1
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cds-service'"
            )
        assert store.record_feedback("svc", [accepted("c-2")]) == 1
        assert [f.card for f in store.feedback_log()] == ["c-1", "c-2"]
    finally:
        store.close()

