"""Reading notes of real sessions: volumes beside a local anaesthetic, a dry first pass before a guided tap,
two families' procedures in one note."""

from __future__ import annotations

import pytest

from tests.coding.helpers import labels, post, suggestions

from .kit import DRAIN, THORACENTESIS, card_for, evidence_by_field, note_call

PARACENTESIS = {"system": "http://snomed.info/sct", "code": "89305009", "display": "Abdominal paracentesis"}


@pytest.mark.parametrize("text, ml", [
    ("Right thoracentesis. Anesthetized with 5 mL lidocaine, then 1.2 L of amber fluid removed. Catheter removed.",
     1200),
    ("Right thoracentesis. 10 mL of 1% lidocaine to the skin and 900 cc drained. Catheter removed.", 900),
    ("Right thoracentesis. Local: 5cc lido; 650 mL serous fluid removed, catheter removed.", 650),
    ("Right thoracentesis under 10 mL of 1% lidocaine; afterwards 700 mL drained, catheter removed.", 700),
])
def test_only_the_anaesthetic_s_own_volume_is_not_the_fluid_removed(client, text, ml):
    ext = card_for(client, text + " No complications.")
    assert evidence_by_field(ext)["volume"]["value"] == ml
    assert "fluid-volume" not in ext.get("documentationGaps", [])


@pytest.mark.parametrize("text", [
    "Right thoracentesis. Skin anesthetized with 10 mL of 1% lidocaine, catheter removed. No complications.",
    "Right thoracentesis. Bupivacaine 0.25%, 10 cc, to the skin. Catheter removed. No complications.",
])
def test_an_anaesthetic_volume_alone_leaves_the_volume_undocumented(client, text):
    ext = card_for(client, text)
    assert "volume" not in evidence_by_field(ext) and "fluid-volume" in ext["documentationGaps"]


DRY_THEN_TAP = ("Thoracentesis, right.\nAttempt 1: under ultrasound, dry tap, needle withdrawn.\n"
                "Attempt 2: re-scanned one space lower, 800 mL removed, catheter removed.\n"
                "Images saved. No complications.")


def test_a_dry_first_pass_then_a_guided_tap_on_the_same_side_is_one_procedure(client):
    call = note_call(DRY_THEN_TAP, procedures=[{"code": THORACENTESIS, "status": "not-done"},
                                               {"code": THORACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 1}])
    found = suggestions(post(client, call))
    assert [line for ext in found.values() for line in labels(ext)] == ["32555-RT"]
    assert "76604" in found["Procedure/p1"]["notSeparatelyBillable"]


def test_a_dry_side_and_an_unguided_tap_on_the_other_side_bill_the_scan(client):
    text = ("Left chest scanned with ultrasound: only a trace of fluid, not enough to drain; images saved.\n"
            "Right thoracentesis by landmarks: 1.3 L removed, catheter removed. No complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS, "status": "not-done"}, {"code": THORACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0}])
    found = suggestions(post(client, call))
    assert sorted(line for ext in found.values() for line in labels(ext)) == ["32554-RT", "76604"]


def test_a_tap_and_a_paracentesis_in_one_note_each_read_their_own_account(client):
    text = ("1. Thoracentesis, right: US guided, images saved. 1.5 L. Catheter removed.\n"
            "2. Paracentesis: no US, RLQ, 3 L. Needle removed.\nNo complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": PARACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0}], diagnoses=("J90", "R18.8"))
    found = suggestions(post(client, call))
    tap, para = evidence_by_field(found["Procedure/p1"]), evidence_by_field(found["Procedure/p2"])
    assert tap["volume"]["value"] == 1500 and para["volume"]["value"] == 3000
    assert "guidance" not in para and "saved-images" not in found["Procedure/p2"].get("documentationGaps", [])


def test_a_guided_tap_converted_to_a_drain_guides_the_drain(client):
    text = ("Procedure: right thoracentesis converted to pigtail drain.\nUnder ultrasound (images saved) the pleural "
            "space was entered; 30 mL aspirated, frank pus. 14 Fr pigtail placed at the same site, sutured and put "
            "on suction. Drain output 450 mL. No complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": DRAIN}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0}], diagnoses=("J86.9",))
    found = suggestions(post(client, call))
    assert [line for ext in found.values() for line in labels(ext)] == ["32557-RT"]
    assert "guidance" in evidence_by_field(found["Procedure/p2"])


@pytest.mark.parametrize("title", ["PROCEDURE: Right and left thoracentesis, ultrasound guided.",
                                   "Bilateral thoracenteses under ultrasound."])
def test_a_bilateral_title_then_one_account_per_side(client, title):
    text = (f"{title}\nRight side first: 1400 mL straw fluid, catheter removed.\n"
            "Then left side: 1000 mL straw fluid, catheter removed.\nImages of both sides saved. No complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": THORACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0},
                              {"modality": "US", "instances": 2, "procedure": 1}])
    found = suggestions(post(client, call))
    right, left = evidence_by_field(found["Procedure/p1"]), evidence_by_field(found["Procedure/p2"])
    assert (right["side"]["value"], right["volume"]["value"]) == ("right", 1400)
    assert (left["side"]["value"], left["volume"]["value"]) == ("left", 1000)
    assert [line for ext in found.values() for line in labels(ext)] == ["32555-50"]


@pytest.mark.parametrize("text", [
    "Bilat thoracentesis\n- R 1 L, L 700 mL\n- US both sides, imgs saved\n- caths removed\n- no complications",
    "Bilateral thoracentesis under ultrasound, images saved. 1.7 L total: 1 L right,\n700 mL left. Catheters "
    "removed both sides. No complications.",
])
def test_per_side_volumes_in_one_line_go_to_each_side_and_a_both_sides_remark_to_both(client, text):
    call = note_call(text, procedures=[{"code": THORACENTESIS, "body_site": "right"},
                                       {"code": THORACENTESIS, "body_site": "left"}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0},
                              {"modality": "US", "instances": 2, "procedure": 1}])
    found = suggestions(post(client, call))
    right, left = evidence_by_field(found["Procedure/p1"]), evidence_by_field(found["Procedure/p2"])
    assert (right["side"]["value"], right["volume"]["value"]) == ("right", 1000)
    assert (left["side"]["value"], left["volume"]["value"]) == ("left", 700)
    assert "guidance" in right and "guidance" in left


def test_a_second_procedure_named_later_in_the_same_sentence_gets_that_clause(client):
    text = ("Right diagnostic thoracentesis under US (images saved) drew 50 mL for cytology, then in the same sitting "
            "a tunneled pleural catheter (PleurX) was placed on the right: tunnel created, 1.2 L drained, catheter "
            "capped. No complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": {"text": "Tunneled pleural catheter"}}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0}], diagnoses=("J91.0",))
    found = suggestions(post(client, call))
    tap, catheter = evidence_by_field(found["Procedure/p1"]), evidence_by_field(found["Procedure/p2"])
    assert tap["volume"]["value"] == 50 and catheter["volume"]["value"] == 1200
    assert catheter["side"]["value"] == "right"
    assert [line for ext in found.values() for line in labels(ext)] == ["32550-RT"]


@pytest.mark.parametrize("text, ml", [
    ("Right thoracentesis, 1100 mL drained, catheter removed. No complications. Oxygen requirement improved to 2 L.",
     1100),
    ("Right thoracentesis. His oxygen needs rose from 1 to 3 liters this week. One liter drained, catheter removed. "
     "No complications.", 1000),
    ("Right thoracentesis: with local anaesthetic an eight french catheter was placed one liter removed catheter "
     "removed no complications", 1000),
])
def test_oxygen_and_a_distant_anaesthetic_keep_their_litres_out_of_the_volume(client, text, ml):
    assert evidence_by_field(card_for(client, text))["volume"]["value"] == ml


def test_one_act_for_both_sides_totals_the_volumes_of_each_side(client):
    ext = card_for(client, "Bilateral thoracenteses: right 700 mL, left 650 mL, both catheters removed. "
                           "No complications.", procedures=[{"code": THORACENTESIS, "body_site": "bilateral"}])
    assert evidence_by_field(ext)["volume"]["value"] == 1350


def test_a_daily_output_is_no_volume_removed(client):
    ext = card_for(client, "Right thoracentesis. The drain output was under 100 mL/day last week. Catheter removed. "
                           "No complications.")
    assert "volume" not in evidence_by_field(ext) and "fluid-volume" in ext["documentationGaps"]


def test_images_of_the_scan_saved_claim_guidance(client):
    ext = card_for(client, "I scanned the right posterior chest with a curvilinear probe. Images of the pocket and "
                           "of the diaphragm were saved to the archive. Right thoracentesis, 900 mL, catheter "
                           "removed. No complications.")
    assert "guidance" in evidence_by_field(ext) and "saved-images" in ext["documentationGaps"]


@pytest.mark.parametrize("text, fate", [
    ("Right thoracentesis without ultrasound, 1 L, catheter removed. No complications.", "removed"),
    ("right thoracentesis no ultrasound 1 liter removed needle out no complications", "removed"),
    ("Right thoracentesis, 1 L drained, the catheter was not left in place, it was removed. No complications.",
     "removed"),
])
def test_a_negation_of_something_else_does_not_negate_the_catheter_s_fate(client, text, fate):
    assert evidence_by_field(card_for(client, text))["fate"]["value"] == fate


def test_a_negated_stay_is_no_drain(client):
    ext = card_for(client, "Right thoracentesis with an 8 Fr catheter, 1 L drained; no catheter was left in place. "
                           "No complications.")
    assert labels(ext) == ["32554-RT"]


def test_a_no_answer_after_the_guidance_field_name_is_no_claim(client):
    ext = card_for(client, "Thoracentesis procedure\nSide: Left\nUS guidance used: No (landmarks)\n2 L removed; "
                           "catheter withdrawn\nComplications: none")
    assert "guidance" not in evidence_by_field(ext) and labels(ext) == ["32554-LT"]


@pytest.mark.parametrize("text", [
    "Thoracentesis of the right chest. No US. catheter placed, 650 ml drained, bandaid on. No complications.",
    "we did a right thoracentesis we put in the catheter and drained 1 liter there were no complications",
])
def test_a_catheter_placed_with_its_fate_unstated_is_a_gap_despite_a_nearby_negation(client, text):
    assert "catheter-disposition" in card_for(client, text)["documentationGaps"]


def test_an_instillation_through_an_existing_tube_has_no_fate_of_its_own(client):
    ext = card_for(client, "Intrapleural fibrinolytic therapy via existing right chest tube: alteplase 10 mg, dwell 1 "
                           "hour, then tube returned to suction. Complications: none.",
                   procedures=[{"code": {"text": "Intrapleural tPA instillation"}}])
    assert "fate" not in evidence_by_field(ext)


def test_an_instillation_named_after_the_tube_it_goes_through_is_still_coded(client):
    text = ("intrapleural therapy day two through the existing left pigtail catheter period alteplase ten milligrams "
            "and dornase five milligrams were instilled and the tube was clamped for one hour then opened back to "
            "suction period patient tolerated it without complications period")
    ext = card_for(client, text, procedures=[{"code": {"text": "Intrapleural tPA/DNase"}}])
    assert labels(ext) == ["32562-LT"]


def test_a_threshold_is_no_volume_removed(client):
    ext = card_for(client, "Right thoracentesis. Catheter output under 50 mL on the last drainages. Catheter removed. "
                           "No complications.")
    assert "volume" not in evidence_by_field(ext)
