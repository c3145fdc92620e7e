"""`POST /cds-services/{id}/feedback` and the audit record of hook calls, through the Flask app (both backends)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from cds_service.app import create_app
from cds_service.store import StoreUnavailable
from tests.calls import order_sign_call
from tests.store.sample_cards import coding_card

SERVICE = "procedure-coding-order-sign"
FEEDBACK = f"/cds-services/{SERVICE}/feedback"
REASONS = "http://example.org/override-reasons"
REQUESTS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "requests"


@pytest.fixture
def app(backend_settings):
    app = create_app(backend_settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["cds_store"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["cds_store"]


class CardsCoder:
    """Stands in for the coding engine: answers every call with the given cards."""

    def __init__(self, cards: list[dict]):
        self.cards_to_answer = cards

    def cards(self, service, call, data) -> list[dict]:
        return self.cards_to_answer

    def history_query(self, call, data) -> None:
        return None




def accepted(card: str, at: str = "2025-03-01T10:00:00Z") -> dict:
    return {"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}], "outcomeTimestamp": at}


def sandbox_override(card: str) -> dict:
    # What the CDS Hooks sandbox sends when a card is dismissed: reason code and system only.
    return {
        "card": card,
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "not-indicated", "system": REASONS}},
        "outcomeTimestamp": "2025-03-01T10:05:00.123Z",
    }


def assert_outcome(response, status: int, mentions: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome"
    assert mentions in body["issue"][0]["diagnostics"]


def test_feedback_is_stored_and_acknowledged(client, store):
    response = client.post(FEEDBACK, json={"feedback": [accepted("c-1"), sandbox_override("c-2")]})
    assert response.status_code == 200
    assert response.get_json() == {"received": 2, "duplicates": 0}
    log = store.feedback_log()
    assert [(f.service_id, f.card, f.outcome) for f in log] == [
        (SERVICE, "c-1", "accepted"),
        (SERVICE, "c-2", "overridden"),
    ]
    assert (log[1].reason_system, log[1].reason_code, log[1].has_comment) == (REASONS, "not-indicated", False)


def test_feedback_posted_twice_is_stored_once(client, store):
    body = {"feedback": [accepted("c-1"), sandbox_override("c-1")]}
    assert client.post(FEEDBACK, json=body).get_json() == {"received": 2, "duplicates": 0}
    assert client.post(FEEDBACK, json=body).get_json() == {"received": 2, "duplicates": 2}
    assert len(store.feedback_log()) == 2


def test_feedback_for_an_unknown_service_is_404(client, store):
    response = client.post("/cds-services/no-such-service/feedback", json={"feedback": [accepted("c-1")]})
    assert_outcome(response, 404, "no-such-service")
    assert store.feedback_log() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": []}, "feedback"),
        ({"feedback": [{"outcome": "accepted", "outcomeTimestamp": "2025-03-01T10:00:00Z"}]}, "feedback[0].card"),
        ({"feedback": [{**accepted("c-1"), "outcome": "ignored"}]}, "feedback[0].outcome"),
        ({"feedback": [{k: v for k, v in accepted("c-1").items() if k != "acceptedSuggestions"}]},
         "feedback[0].acceptedSuggestions"),
        ({"feedback": [accepted("c-1", at="2025-03-01 10:00")]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [accepted("c-1", at="2025-03-01T10:00:00")]}, "feedback[0].outcomeTimestamp"),
        # Valid RFC 3339, but before year 1 or after 9999 once in UTC (found by the API fuzzer: was a 500).
        ({"feedback": [accepted("c-1"), accepted("c-2", at="0001-01-01T00:00:00+02:00")]},
         "feedback[1].outcomeTimestamp"),
        ({"feedback": [accepted("c-1", at="9999-12-31T23:00:00-02:00")]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [{**sandbox_override("c-1"), "overrideReason": {"reason": {"code": "x"}}}]},
         "feedback[0].overrideReason.reason.system"),
    ],
)
def test_a_bad_feedback_body_is_400_naming_the_field(client, store, body, field):
    response = client.post(FEEDBACK, json=body)
    assert_outcome(response, 400, field)
    assert store.feedback_log() == []


def test_a_feedback_body_that_is_not_json_is_400(client):
    response = client.post(FEEDBACK, data="{not json", content_type="application/json")
    assert_outcome(response, 400, "not valid JSON")


def test_feedback_that_cannot_be_committed_is_503_not_200(client, store, monkeypatch, caplog):
    def failing(*args, **kwargs):
        raise StoreUnavailable("disk full") from OSError("disk full")

    monkeypatch.setattr(store, "record_feedback", failing)
    with caplog.at_level(logging.ERROR, logger="cds_service"):
        response = client.post(FEEDBACK, json={"feedback": [accepted("c-1")]})
    assert_outcome(response, 503, "retry")
    [record] = [r for r in caplog.records if r.getMessage() == "feedback not stored"]
    assert (record.service, record.error, record.count) == (SERVICE, "OSError", 1)


def test_hook_calls_are_audited_and_feedback_joins_their_rule(app, client, store):
    cards = [coding_card("c-1", rule="pleural/thoracentesis-imaging"), coding_card("c-2", rule="pleural/other")]
    app.extensions["cds_pipeline"].coder = CardsCoder(cards)
    answer = client.post(f"/cds-services/{SERVICE}", json=order_sign_call())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [card["uuid"] for card in answer.get_json()["cards"]] == ["c-1", "c-2"]
    client.post(FEEDBACK, json={"feedback": [accepted("c-1"), sandbox_override("c-2")]})
    assert app.extensions["cds_audit"].flush()  # the audit writer commits off the request path
    rows = {row.rule: row for row in store.report()}
    assert (rows["pleural/thoracentesis-imaging"].issued, rows["pleural/thoracentesis-imaging"].accepted) == (1, 1)
    assert rows["pleural/other"].overridden == 1
    assert rows["pleural/other"].top_override_reasons[0].code == "not-indicated"


def test_an_audit_failure_still_answers_the_call_and_is_logged_without_phi(app, client, store, monkeypatch, caplog):
    app.extensions["cds_pipeline"].coder = CardsCoder([coding_card("c-1")])

    def failing(calls):
        raise StoreUnavailable("locked") from TimeoutError("database is locked")

    monkeypatch.setattr(store, "record_calls", failing)
    call = order_sign_call()
    with caplog.at_level(logging.ERROR, logger="cds_service"):
        answer = client.post(f"/cds-services/{SERVICE}", json=call)
        assert app.extensions["cds_audit"].flush()
    assert answer.status_code == 200
    assert answer.get_json()["cards"][0]["uuid"] == "c-1"
    [record] = [r for r in caplog.records if r.getMessage() == "audit record not stored"]
    assert record.hookInstance == call["hookInstance"] and record.error == "TimeoutError"
    assert "Jane" not in caplog.text


def test_cards_of_the_coding_engine_are_audited_and_joined_by_feedback(app, client, store):
    """The real engine on a recorded request: each card's rule shows up in the report with its feedback."""
    call = json.loads((REQUESTS / "ncci-distinct-sides.encounter-discharge.json").read_text(encoding="utf-8"))
    answer = client.post("/cds-services/procedure-coding-encounter-discharge", json=call)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    cards = [card for card in answer.get_json()["cards"] if "cpt-coding.suggestion" in card.get("extension", {})]
    assert cards
    first = cards[0]
    suggestion_ids = [{"id": s["uuid"]} for s in first.get("suggestions", []) if "uuid" in s][:1] or [{"id": "none"}]
    feedback = {"card": first["uuid"], "outcome": "accepted", "acceptedSuggestions": suggestion_ids,
                "outcomeTimestamp": "2025-03-01T10:00:00Z"}
    discharge_feedback = "/cds-services/procedure-coding-encounter-discharge/feedback"
    assert client.post(discharge_feedback, json={"feedback": [feedback]}).status_code == 200
    assert app.extensions["cds_audit"].flush()
    rows = {row.rule: row for row in store.report()}
    rule = first["extension"]["cpt-coding.suggestion"]["rule"]
    issued_per_rule = {}
    for card in cards:
        card_rule = card["extension"]["cpt-coding.suggestion"]["rule"]
        issued_per_rule[card_rule] = issued_per_rule.get(card_rule, 0) + 1
    assert {name: row.issued for name, row in rows.items()} == issued_per_rule
    assert rows[rule].accepted == 1
