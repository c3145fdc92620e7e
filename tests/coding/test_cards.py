"""The card contract: spec validity, the extension, texts, escaping, and what could not be read."""

from __future__ import annotations

import uuid

from cds_service.protocol.response_check import response_problems

from .helpers import REQUESTS, post, request, suggestions


def test_every_fixture_answers_spec_valid_cards_with_the_full_contract(client):
    for path in sorted(REQUESTS.glob("*.json")):
        body = post(client, request(path.stem))
        assert body["cards"], path.name
        for card in body["cards"]:
            uuid.UUID(card["uuid"], version=4)
            assert len(card["summary"]) < 140 and card["indicator"] in ("info", "warning")
            assert card["source"]["url"].startswith("https://")
            ext = card["extension"]["cpt-coding.suggestion"]
            assert set(ext) <= {"subject", "lines", "notSeparatelyBillable", "documentationGaps", "evidence", "rule"}
            assert ext["subject"].split("/")[0] in ("Procedure", "ServiceRequest")
            reasons = card["overrideReasons"]
            assert {"imaging-marked-site-only", "documented-elsewhere"} <= {r["code"] for r in reasons}
            assert all(r["system"] == "http://procedure-coding.example.org/override-reason" for r in reasons)
            if "suggestions" in card:
                assert card["selectionBehavior"] == "at-most-one"
                for suggestion in card["suggestions"]:
                    uuid.UUID(suggestion["uuid"], version=4)
            if ext.get("lines"):
                assert "**In plain words**" in card["detail"]


def test_card_detail_explains_why_with_study_and_diagnosis(client):
    card = suggestions(post(client, request("thoracentesis-us-guided.note-sign")))["Procedure/p1"]["card"]
    assert card["summary"] == "Bill 32555-RT: thoracentesis with imaging guidance"
    assert "ImagingStudy/img\\-1" in card["detail"] and "J90" in card["detail"]
    assert "between two ribs" in card["detail"]


def test_resource_text_is_escaped_in_markdown(client):
    body = post(client, request("note-with-markup.note-sign"))
    detail = body["cards"][0]["detail"]
    assert "<img" not in detail and "<script" not in detail
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in detail
    assert "\\*\\*bold\\*\\*" in detail


def test_bad_base64_note_is_skipped_and_reported(client):
    body = post(client, request("note-bad-base64.note-sign"))
    card = body["cards"][0]
    assert "DocumentReference/note\\-1: note attachment is not valid base64" in card["detail"]
    assert "fluid-volume" in card["extension"]["cpt-coding.suggestion"]["documentationGaps"]


def test_skipped_and_unread_data_are_named_on_the_coding_card(client):
    call = request("thoracentesis-us-guided.note-sign")
    call["prefetch"]["observations"] = {"resourceType": "OperationOutcome", "issue": []}  # client fetch failed
    call["prefetch"]["conditions"]["entry"].append({"resource": {"resourceType": "Condition", "id": "bad",
                                                                  "code": "J90"}})
    body = post(client, call)
    detail = body["cards"][0]["detail"]
    assert "**Data not read**" in detail
    assert "observations: no prefetch and no FHIR server" in detail
    assert "Condition/bad: code must be a object" in detail


def test_one_info_card_when_nothing_is_coded_but_data_was_unread(client):
    call = request("thoracentesis.order-select")
    call["context"]["draftOrders"]["entry"] = [{"resource": {
        "resourceType": "ServiceRequest", "id": "sr-x", "status": "draft", "intent": "order",
        "code": {"text": "CBC"}, "subject": {"reference": "Patient/pt-1"}}}]
    call["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    body = post(client, call)
    assert len(body["cards"]) == 1 and body["cards"][0]["indicator"] == "info"
    assert "conditions" in body["cards"][0]["detail"] and "extension" not in body["cards"][0]
    call["prefetch"]["conditions"] = None
    assert post(client, call)["cards"] == [], "an unrelated order gets no card"


def test_order_select_is_info_only_even_with_gaps(client):
    body = post(client, request("thoracentesis.order-select"))
    assert [c["indicator"] for c in body["cards"]] == ["info"]
    assert response_problems(body) == []
    same_as_sign = request("thoracentesis.order-select")
    same_as_sign["hook"] = "order-sign"
    same_as_sign["context"].pop("selections")
    assert post(client, same_as_sign)["cards"][0]["indicator"] == "warning"


def test_checklist_lists_missing_documentation(client):
    card = suggestions(post(client, request("thoracentesis-undocumented.encounter-discharge")))["Procedure/p1"]["card"]
    assert "- [ ] Record the volume of fluid removed" in card["detail"]
    assert "- [ ] Record the side" in card["detail"]
    assert "(`specimen`) (reminder)" in card["detail"]


def test_update_action_never_echoes_empty_values(client):
    call = request("thoracentesis-undocumented.encounter-discharge")
    procedure = call["prefetch"]["procedures"]["entry"][0]["resource"]
    procedure.update(basedOn=[], note=[{}], bodySite=[{"text": ""}])
    card = suggestions(post(client, call))["Procedure/p1"]["card"]  # post() checks response_problems
    resource = card["suggestions"][0]["actions"][0]["resource"]
    assert "basedOn" not in resource and "note" not in resource and "bodySite" not in resource
    assert resource["performedPeriod"] == procedure["performedPeriod"]


def test_note_with_a_malformed_context_codes_nothing_and_does_not_fail(client):
    call = request("thoracentesis-us-guided.note-sign")
    call["context"]["note"]["context"] = "Procedure/p1"
    response = client.post("/cds-services/procedure-coding-note-sign", json=call)
    assert response.status_code in (200, 400)  # the envelope schema may refuse it; never a 500
