"""`cds-service report`: reads the store named by the environment and prints per-rule outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cds_service.cli import main
from cds_service.store import open_store
from cds_service.store.records import FeedbackItem, call_record
from tests.store.sample_cards import coding_card

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REASONS = "http://example.org/override-reasons"


@pytest.fixture
def filled_store_env(backend_settings, monkeypatch):
    """A store with two rules' cards and feedback; the environment points the command at it."""
    store = open_store(backend_settings)
    try:
        for uuids, rule, at in (
            (("a1", "a2", "a3"), "pleural/thoracentesis-imaging", T0),
            (("b1",), "paracentesis/diagnostic", T0 - timedelta(days=30)),
        ):
            call = {"hookInstance": f"h-{uuids[0]}", "hook": "order-sign"}
            store.record_call(call_record("svc", call, [coding_card(u, rule=rule) for u in uuids], at))
        store.record_feedback("svc", [
            FeedbackItem("a1", "accepted", T0, accepted_suggestions=("s-1",)),
            FeedbackItem("a2", "overridden", T0, reason_system=REASONS, reason_code="not-indicated",
                         reason_display="Not indicated", has_comment=True),
            FeedbackItem("a3", "overridden", T0, reason_system=REASONS, reason_code="not-indicated"),
            FeedbackItem("b1", "overridden", T0),
        ])
    finally:
        store.close()
    if backend_settings.database_url:
        monkeypatch.setenv("DATABASE_URL", backend_settings.database_url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.setenv("CDS_SQLITE_PATH", str(backend_settings.sqlite_path))


def test_json_report_per_rule(filled_store_env, capsys):
    assert main(["report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rules = {row["rule"]: row for row in report["rules"]}
    pleural = rules["pleural/thoracentesis-imaging"]
    assert (pleural["issued"], pleural["accepted"], pleural["overridden"]) == (3, 1, 2)
    assert pleural["acceptanceRate"] == pytest.approx(1 / 3, abs=1e-4)
    assert pleural["topOverrideReasons"] == [
        {"system": REASONS, "code": "not-indicated", "display": "Not indicated", "count": 2, "withComment": 1}
    ]
    paracentesis = rules["paracentesis/diagnostic"]
    assert paracentesis["topOverrideReasons"][0]["code"] is None
    assert report["since"] is None


def test_since_leaves_out_older_cards(filled_store_env, capsys):
    assert main(["report", "--format", "json", "--since", "2025-02-15"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["rule"] for row in report["rules"]] == ["pleural/thoracentesis-imaging"]
    assert report["since"] == "2025-02-15T00:00:00Z"


def test_table_report(filled_store_env, capsys):
    assert main(["report"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RULE", "ISSUED", "ACCEPTED", "OVERRIDDEN", "ACCEPTANCE"]
    assert lines[1].split() == ["pleural/thoracentesis-imaging", "3", "1", "2", "33.3%"]
    assert "not-indicated (Not indicated); 1 with a comment" in lines[2] and lines[2].split()[0] == "2"
    assert lines[3].split() == ["paracentesis/diagnostic", "1", "0", "1", "0.0%"]
    assert "(no reason given)" in lines[4]


@pytest.mark.parametrize("since", ["yesterday", "2025-02-30", "2025-02-15T10:00:00"])
def test_a_bad_since_is_a_usage_error(since, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["report", "--since", since])
    assert stopped.value.code == 2
    assert "--since" in capsys.readouterr().err
