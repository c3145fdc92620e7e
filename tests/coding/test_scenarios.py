"""Every rule of issue 3, positive and negative, from the request fixtures in fhir_fixtures/requests/,
through the HTTP endpoint. Each row: subject -> (billable lines, not separately billable, gaps, indicator)."""

from __future__ import annotations

import pytest

from .helpers import assert_expected_cards, labels, post, request, suggestions

NO_GAPS: list[str] = []
REMINDERS = ["post-procedure-imaging", "specimen"]

SCENARIOS = {
    # Rule 1 (approach) and rule 2 (guidance by procedureReference): catheter removed, US with saved images.
    "thoracentesis-us-guided.note-sign": {"Procedure/p1": (["32555-RT"], [], NO_GAPS, "info")},
    # Rule 2: guidance claimed in text, study without saved images: the without-imaging code, corrected from 32555.
    "thoracentesis-no-images.note-sign": {
        "Procedure/p1": (["32554-RT"], [], ["saved-images", *REMINDERS], "warning")},
    "thoracentesis-text-claim-no-study.encounter-discharge": {
        "Procedure/p1": (["32554-RT"], [], ["saved-images"], "warning")},
    # Rule 2: linked through a shared basedOn order even though it started two hours before.
    "thoracentesis-guidance-based-on.encounter-discharge": {"Procedure/p1": (["32555-RT"], [], NO_GAPS, "info")},
    # Rule 2 negative: a CT days before and a plain film (DX) during the procedure are not guidance.
    "thoracentesis-old-ct.encounter-discharge": {"Procedure/p1": (["32554-RT"], [], NO_GAPS, "info")},
    # Rule 2 at order-sign: a with-imaging CPT code on the order; negative: no guidance ordered.
    "thoracentesis-order-coded-with-imaging.order-sign": {
        "ServiceRequest/sr-1": (["32555-LT"], [], NO_GAPS, "info")},
    "thoracentesis-order-unguided.order-sign": {"ServiceRequest/sr-1": (["32554-RT"], [], NO_GAPS, "info")},
    # Rules 2+3 at order-sign: a draft guidance order makes it guided and is bundled (delete suggested).
    "thoracentesis-with-guidance-order.order-sign": {
        "ServiceRequest/sr-1": (["32555-RT"], ["76942"], NO_GAPS, "info")},
    # Rules 4, 5, 3: both sides in one session -> one 50 line; a separate 76942 charge is not billable.
    "thoracentesis-bilateral.encounter-discharge": {
        "Procedure/p-right": (["32555-50"], ["76942"], NO_GAPS, "info"),
        "Procedure/p-left": ([], [], NO_GAPS, "info")},
    "thoracentesis-single-bilateral.encounter-discharge": {"Procedure/p1": (["32555-50"], [], NO_GAPS, "info")},
    # Rule 4 as a payer setting: one line per side.
    "thoracentesis-bilateral-rt-lt-payer.encounter-discharge": {
        "Procedure/p1": (["32555-RT", "32555-LT"], [], NO_GAPS, "info")},
    # Rule 5 negative: six hours apart is two sessions: no 50, and no 76 on the other side.
    "thoracentesis-two-sessions.encounter-discharge": {
        "Procedure/p-right": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p-left": (["32555-LT"], [], NO_GAPS, "info")},
    # Rule 1 by focalDevice + SNOMED; rule 6 CPT guidance: aspiration then drain on the same side -> drain only.
    "pleural-drain.note-sign": {
        "Procedure/p1": ([], ["32555"], NO_GAPS, "info"),
        "Procedure/p2": (["32557-RT"], [], REMINDERS, "info")},
    # Rule 6: on opposite sides both lines stay, with their sides and nothing more.
    "drain-opposite-side.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p2": (["32557-LT"], [], ["post-procedure-imaging"], "info")},
    # Rule 1 by text ("left in place"); side from the qualifier code 7771000.
    "drain-left-in-place-text.encounter-discharge": {
        "Procedure/p1": (["32556-LT"], [], REMINDERS, "info")},
    # Rule 6, NCCI indicator 0: 32554 is not billable with 32555 in one session, even on the other side.
    "ncci-guided-and-unguided.encounter-discharge": {
        "Procedure/p-right": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p-left": ([], ["32554"], NO_GAPS, "info")},
    # Rule 6, NCCI indicator 1: other side -> XS on the column-2 line; same side -> not separately billable.
    "ncci-distinct-sides.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p2": (["32551-LT-XS"], [], NO_GAPS, "info")},
    "ncci-same-side.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p2": ([], ["32551"], NO_GAPS, "warning")},
    # Rule 7: same side later the same day: 76 by the same performer, 77 by another.
    "thoracentesis-repeat-same-performer.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p2": (["32555-RT-76"], [], NO_GAPS, "info")},
    "thoracentesis-repeat-other-performer.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], [], NO_GAPS, "info"),
        "Procedure/p2": (["32555-RT-77"], [], NO_GAPS, "info")},
    # Rule 6 MUE: two units of 49082 in a day exceed its MUE of 1 -> warning on both cards.
    "paracentesis-repeat-mue.encounter-discharge": {
        "Procedure/p1": (["49082"], [], NO_GAPS, "warning"),
        "Procedure/p2": (["49082-76"], [], NO_GAPS, "warning")},
    # Paracentesis: time-window guidance, never a side (bodySite says right lower quadrant), R18.8 supports.
    "paracentesis-us-guided.encounter-discharge": {"Procedure/p1": (["49083"], [], NO_GAPS, "info")},
    # Rule 2 correction + rule 9 via reasonCode K70.31.
    "paracentesis-unguided-coded-49083.encounter-discharge": {"Procedure/p1": (["49082"], [], NO_GAPS, "warning")},
    # Rule 8: dry tap -> limited ultrasound, 26 in a facility encounter (IMP), none in an ambulatory one.
    "dry-tap.encounter-discharge": {"Procedure/p1": (["76604-26"], [], NO_GAPS, "info")},
    "dry-tap-outpatient-paracentesis.encounter-discharge": {"Procedure/p1": (["76705"], [], NO_GAPS, "info")},
    # Rule 8 negative: not done for another reason -> nothing billable, and the card says so.
    "not-done-declined.encounter-discharge": {"Procedure/p1": ([], [], NO_GAPS, "info")},
    # Rule 10: volume from a linked Observation (1.1 L), complications from Procedure.complication.
    "thoracentesis-volume-observation.encounter-discharge": {"Procedure/p1": (["32555-RT"], [], REMINDERS, "info")},
    # Rules 9+10 negative: only R06.02 active (J90 resolved), no side, no note; the appendectomy gets no card.
    "thoracentesis-undocumented.encounter-discharge": {
        "Procedure/p1": (["32554"], [], ["indication", "laterality", "fluid-volume", "complications", *REMINDERS],
                         "warning")},
    # Order-select preview: only indication and laterality at ordering time, and info-level only.
    "thoracentesis.order-select": {"ServiceRequest/sr-1": (["32554"], [], ["indication", "laterality"], "info")},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(client, name):
    body = post(client, request(name))
    found = suggestions(body)
    expected = SCENARIOS[name]
    assert_expected_cards(found, expected)
    for ext in found.values():
        assert ext["rule"].split("/")[0] in ("pleural", "paracentesis")
        assert all(line["units"] == 1 for line in ext.get("lines", []))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_billable_line_is_on_exactly_one_card(client, name):
    body = post(client, request(name))
    cards_with_lines = [c for c in body["cards"] if c["extension"]["cpt-coding.suggestion"].get("lines")]
    summaries = [c["summary"] for c in cards_with_lines]
    # A card names its own lines in its summary and no other card's.
    for card in cards_with_lines:
        for label in labels(card["extension"]["cpt-coding.suggestion"]):
            assert sum(label in s.split(":")[0].replace(",", " ").split() for s in summaries) == 1


def test_subject_without_line_says_where_its_code_went(client):
    found = suggestions(post(client, request("pleural-drain.note-sign")))
    absorbed = found["Procedure/p1"]["card"]
    assert "32555" in absorbed["summary"] and "Do not bill" in absorbed["summary"]
    assert "Procedure/p2" in absorbed["detail"] and "32557" in absorbed["detail"]
    merged = suggestions(post(client, request("thoracentesis-bilateral.encounter-discharge")))["Procedure/p-left"]
    assert "bilateral" in merged["card"]["summary"] and "Procedure/p\\-right" in merged["card"]["detail"]
    declined = suggestions(post(client, request("not-done-declined.encounter-discharge")))["Procedure/p1"]
    assert declined["card"]["summary"].startswith("Nothing to bill")


def test_wrong_code_is_named_and_replaced(client):
    found = suggestions(post(client, request("thoracentesis-no-images.note-sign")))["Procedure/p1"]
    card = found["card"]
    assert card["summary"].startswith("Bill 32554-RT") and "(not 32555)" in card["summary"]
    action = card["suggestions"][0]["actions"][0]
    assert action["type"] == "update" and action["resource"]["id"] == "p1"
    cpt = [c for c in action["resource"]["code"]["coding"] if c["system"] == "http://www.ama-assn.org/go/cpt"]
    assert [c["code"] for c in cpt] == ["32554"], "the wrong code of the pair is replaced, not kept"
    assert "- [ ] Save the guidance images" in card["detail"]


def test_bundled_guidance_order_gets_a_delete_suggestion(client):
    card = suggestions(post(client, request("thoracentesis-with-guidance-order.order-sign")))["ServiceRequest/sr-1"]
    actions = card["card"]["suggestions"][0]["actions"]
    assert {"type": "delete", "resourceId": "ServiceRequest/sr-guidance"}.items() <= actions[1].items()
    assert actions[0]["type"] == "update"
    assert actions[0]["resource"]["code"]["coding"][-1] == {
        "system": "http://www.ama-assn.org/go/cpt", "code": "32555", "display": "thoracentesis with imaging guidance"}
    assert "76942" in card["card"]["detail"]


def test_mue_warning_is_explained(client):
    found = suggestions(post(client, request("paracentesis-repeat-mue.encounter-discharge")))
    assert "MUE" in found["Procedure/p2"]["card"]["detail"] and "limit of 1" in found["Procedure/p2"]["card"]["detail"]


def test_paracentesis_never_gets_a_side(client):
    found = suggestions(post(client, request("paracentesis-us-guided.encounter-discharge")))["Procedure/p1"]
    assert found["lines"] == [{"code": "49083", "units": 1}]
    assert "Side:" not in found["card"]["detail"]
