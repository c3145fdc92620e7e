"""What leaves a card for the audit trail, and how feedback bodies become records (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from cds_service.store.records import SuggestedLine, call_record, card_record, feedback_items
from tests.store.sample_cards import coding_card


def test_card_record_keeps_the_identifiers_of_the_suggestion():
    record = card_record(coding_card())
    assert record.uuid == "c-1"
    assert record.subject == "Procedure/p1"
    assert record.rule == "pleural/thoracentesis-imaging"
    assert record.lines == (SuggestedLine("32555", ("RT",), 1),)
    assert record.not_separately_billable == ("76942",)
    assert record.documentation_gaps == ("fluid-volume",)


def test_card_record_drops_values_that_are_not_identifiers():
    record = card_record(
        coding_card(
            subject="Jane Roe, born 1950-02-03",
            rule="a rule with spaces and a name: Jane Roe",
            lines=[{"code": "32555", "modifiers": ["RT", "left side of Jane"], "units": -3}, {"code": 32555}, "x"],
            documentationGaps=["fluid-volume", {"text": "free text"}, "patient Jane Roe said"],
        )
    )
    assert record.subject is None
    assert record.rule is None
    assert record.lines == (SuggestedLine("32555", ("RT",), 1),)
    assert record.documentation_gaps == ("fluid-volume",)
    assert "Jane" not in repr(record)


def test_cards_without_uuid_are_counted_but_not_kept():
    no_uuid = {k: v for k, v in coding_card().items() if k != "uuid"}
    no_extension = {"uuid": "c-2", "summary": "Data could not be read", "indicator": "warning", "source": {}}
    call = {"hookInstance": "h-1", "hook": "order-sign", "context": {"patientId": "p1"}}
    record = call_record("svc", call, [no_uuid, no_extension], datetime(2025, 3, 1, tzinfo=UTC))
    assert record.card_count == 2
    assert [card.uuid for card in record.cards] == ["c-2"]
    assert record.cards[0].rule is None and record.cards[0].lines == ()


def test_feedback_items_normalise_what_makes_the_same_feedback():
    body = {
        "feedback": [
            {
                "card": "c-1",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "s-2"}, {"id": "s-1"}, {"id": "s-2"}],
                "outcomeTimestamp": "2025-03-01T12:00:00.52+02:00",
            },
            {
                "card": "c-1",
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "not-indicated", "system": "http://example.org/reasons"}},
                "outcomeTimestamp": "2025-03-01T10:00:00Z",
            },
            {
                "card": "c-1",
                "outcome": "overridden",
                "overrideReason": {"userComment": "   "},
                "outcomeTimestamp": "2025-03-01T10:00:00Z",
            },
        ]
    }
    accepted, sandbox_override, blank_comment = feedback_items(body)
    assert accepted.accepted_suggestions == ("s-1", "s-2")
    assert accepted.outcome_timestamp == datetime(2025, 3, 1, 10, 0, 0, 520000, tzinfo=UTC)
    assert sandbox_override.reason_code == "not-indicated"
    assert sandbox_override.reason_display is None and not sandbox_override.has_comment
    assert blank_comment.reason_code == "" and not blank_comment.has_comment
