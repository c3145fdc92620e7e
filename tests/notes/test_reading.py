"""Reading notes: side, catheter fate, guidance, volume and complications from the text, with ConText, sections
and attribution to the procedure each sentence describes; the evidence on the card."""

from __future__ import annotations

import base64

import pytest

from cds_service.text.quantities import volume_ml
from tests.coding.helpers import labels, post, suggestions

from .kit import DRAIN, THORACENTESIS, card_for, evidence_by_field, note_call

US_SAVED = [{"modality": "US", "instances": 2, "procedure": 0}]


@pytest.mark.parametrize("text, side", [
    ("Right-sided thoracentesis, 900 mL removed, catheter removed. No complications.", "RT"),
    ("R thora, 900 mL off, needle out. No ptx.", "RT"),
    ("Thoracentesis of the left hemithorax: 700 cc drained, catheter removed, no complications.", "LT"),
    ("Lt thoracentesis. 700 cc drained. Catheter removed. No complications.", "LT"),
    ("Bilateral effusions. Right thoracentesis performed, 1 L removed, catheter removed, no complications.", "RT"),
])
def test_side_is_read_from_the_note_when_body_site_is_empty(client, text, side):
    ext = card_for(client, text)
    assert labels(ext)[0].endswith(side)
    assert "laterality" not in ext.get("documentationGaps", [])


def test_left_in_place_and_the_other_lung_in_findings_are_not_a_side(client):
    ext = card_for(client, "Right thoracentesis. 1 L removed. Catheter removed. Findings: small left effusion too. "
                        "The patient left the room in good condition. No complications.")
    assert labels(ext) == ["32554-RT"]
    ext = card_for(client, "Pleural drain placed and left in place, to suction. 400 mL out. No complications.",
                procedures=[{"code": DRAIN}])
    assert labels(ext) == ["32556"] and "laterality" in ext["documentationGaps"]


def test_body_site_and_note_disagreeing_is_a_laterality_gap_naming_the_conflict(client):
    ext = card_for(client, "Left thoracentesis, 800 mL, catheter removed, no complications.",
                procedures=[{"code": THORACENTESIS, "body_site": "right"}])
    assert "laterality" in ext["documentationGaps"]
    assert "bodySite says right" in ext["card"]["detail"] and "the note says left" in ext["card"]["detail"]


@pytest.mark.parametrize("text", [
    "Thoracentesis, 8 Fr pigtail placed, secured with sutures and dressed. 500 mL out. No complications.",
    "Pigtail catheter placed and connected to a Pleur-evac at -20 cm H2O. 500 mL. No complications.",
    "Catheter inserted, attached to a drainage bag. Patient admitted with the tube. 500 mL. No complications.",
    "Catheter placed; to water seal. 500 mL drained. No complications.",
])
def test_a_catheter_that_stayed_is_a_drain(client, text):
    assert labels(card_for(client, text))[0].startswith("32556")


def test_placed_then_removed_is_removed_and_an_unstated_fate_is_a_gap(client):
    ext = card_for(client, "Catheter placed and connected to drainage, 1 L out, then the catheter was removed. "
                        "No complications.")
    assert labels(ext)[0].startswith("32554") and evidence_by_field(ext)["fate"]["value"] == "removed"
    ext = card_for(client, "Thoracentesis: an 8 Fr catheter was advanced into the pleural space, 1 L drained. "
                        "No complications.")
    assert labels(ext)[0].startswith("32554") and "catheter-disposition" in ext["documentationGaps"]


@pytest.mark.parametrize("text, claimed", [
    ("Thoracentesis without ultrasound guidance, 1 L removed, catheter removed, no complications.", False),
    ("Thoracentesis. No imaging used. 1 L removed, catheter removed, no complications.", False),
    ("Ultrasound-guided thoracentesis, 1 L removed, catheter removed, no complications.", True),
])
def test_negated_guidance_is_no_claim(client, text, claimed):
    ext = card_for(client, text)
    assert ("saved-images" in ext.get("documentationGaps", [])) is claimed
    assert ("guidance" in evidence_by_field(ext)) is claimed


@pytest.mark.parametrize("text, ml", [
    ("a liter and a half", 1500), ("nearly a liter", 1000), ("approximately 2 L", 2000), ("1,200 mL", 1200),
    ("650 cc", 650), ("one point two liters", 1200), ("half a liter", 500), ("fifteen hundred cc", 1500),
    ("eight fifty milliliters", 850), ("twelve fifty cc", 1250), ("nine seventy five mL", 975),
    ("twenty five mL", 25), ("one hundred fifty mL", 150), ("two thousand three hundred mL", 2300),
    ("a liter", 1000),
])
def test_volumes_in_digits_or_words(text, ml):
    assert volume_ml(text) == ml


def test_volume_and_complication_statements_in_words_fill_their_gaps(client):
    ext = card_for(client, "Thoracentesis. Lidocaine 10 mL. We removed a liter and a half, catheter removed. "
                        "No pneumothorax on the post-procedure film.")
    assert not {"fluid-volume", "complications"} & set(ext.get("documentationGaps", []))
    assert evidence_by_field(ext)["volume"]["value"] == 1500
    ext = card_for(client, "Thoracentesis. Lidocaine 10 mL to the skin. Catheter removed.")
    assert {"fluid-volume", "complications"} <= set(ext["documentationGaps"])


def test_planned_or_past_procedures_are_not_the_act(client):
    ext = card_for(client, "Pleural drain placed, sutured in place. 300 mL. No complications. History: s/p left "
                        "thoracentesis last week. Plan: right thoracentesis tomorrow.", procedures=[{"code": DRAIN}])
    assert labels(ext) == ["32556"]  # no side from the history or the plan


def test_another_pleural_procedure_is_never_billed_as_a_thoracentesis_or_drain(client):
    call = note_call("Tunneled pleural catheter (PleurX) placed on the left, tunneled subcutaneously, 1 L drained.",
                     procedures=[{"code": DRAIN}])
    body = post(client, call)
    codes = {line["code"] for ext in suggestions(body).values() for line in ext.get("lines", [])}
    assert not codes & {"32554", "32555", "32556", "32557"}


def test_right_and_left_taps_each_get_their_own_side_and_volume(client):
    text = ("Bilateral thoracenteses under ultrasound guidance.\nRight: 900 mL removed, catheter removed.\n"
            "Left: 600 mL removed, catheter removed.\nNo complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": THORACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0},
                              {"modality": "US", "instances": 2, "procedure": 1}])
    found = suggestions(post(client, call))
    assert evidence_by_field(found["Procedure/p1"])["side"]["value"] == "right"
    assert evidence_by_field(found["Procedure/p1"])["volume"]["value"] == 900
    assert evidence_by_field(found["Procedure/p2"])["side"]["value"] == "left"
    assert evidence_by_field(found["Procedure/p2"])["volume"]["value"] == 600
    assert sorted(line for ext in found.values() for line in labels(ext)) == ["32555-50"]


def test_tap_converted_to_drain_gives_the_catheter_to_the_drain(client):
    text = ("Ultrasound-guided right thoracentesis drained 600 mL, then an 8.5 Fr catheter was placed, sutured in "
            "place and connected to drainage. No complications.")
    call = note_call(text, procedures=[{"code": THORACENTESIS}, {"code": DRAIN, "start": "2026-03-04T10:35:00Z"}],
                     imaging=[{"modality": "US", "instances": 2}])
    found = suggestions(post(client, call))
    assert labels(found["Procedure/p2"]) == ["32557-RT"] and labels(found["Procedure/p1"]) == []


def test_every_text_decision_cites_its_sentence_with_offsets_into_the_note(client):
    text = "Indication: effusion.\nProcedure: Left thoracentesis under ultrasound guidance.\n1.2 L removed.\n" \
           "Catheter removed. No complications."
    ext = card_for(client, text, imaging=US_SAVED)
    call_text = base64.b64decode(note_call(text)["context"]["note"]["content"][0]["attachment"]["data"]).decode()
    evidence = evidence_by_field(ext)
    assert {"side", "guidance", "volume", "fate", "complications"} <= set(evidence)
    for item in evidence.values():
        assert item["documentReference"] == "DocumentReference/note-1"
        assert call_text[item["start"]:item["end"]] == item["text"]
    assert evidence["volume"]["text"] == "1.2 L removed."
    assert '\\"Procedure: Left thoracentesis under ultrasound guidance.\\"' in ext["card"]["detail"] or \
        "Procedure: Left thoracentesis under ultrasound guidance." in ext["card"]["detail"]


def test_misspelt_words_are_read_and_quoted_as_written(client):
    text = "Thoracentisis rigth side. Ultrasoud guided, imges saved. 1.1 L drianed. Cathter removd. No complciations."
    ext = card_for(client, text, imaging=US_SAVED)
    assert labels(ext) == ["32555-RT"]
    assert set(ext.get("documentationGaps", [])) <= {"post-procedure-imaging", "specimen"}  # reminders only
    evidence = evidence_by_field(ext)
    assert evidence["side"]["value"] == "right" and "rigth" in evidence["side"]["text"]
    assert evidence["fate"]["value"] == "removed" and "Cathter removd" in evidence["fate"]["text"]


def test_a_dry_tap_then_a_second_attempt_are_told_apart(client):
    text = ("Right thoracentesis - two attempts.\nFirst site: on ultrasound only a trace of fluid, not enough to "
            "drain; needle not advanced. Images saved.\nSecond site: under real-time ultrasound 850 mL removed. "
            "Catheter removed.\nComplications: none.")
    call = note_call(text, procedures=[{"code": THORACENTESIS, "status": "not-done"}, {"code": THORACENTESIS}],
                     imaging=[{"modality": "US", "instances": 2}])
    found = suggestions(post(client, call))
    assert evidence_by_field(found["Procedure/p2"])["volume"]["value"] == 850
    assert "volume" not in evidence_by_field(found["Procedure/p1"])
    assert "not-performed" in evidence_by_field(found["Procedure/p1"])


def test_a_planned_procedure_or_one_the_packs_do_not_code_gets_no_line(client):
    body = post(client, note_call("Plan: right thoracentesis tomorrow morning.",
                                  procedures=[{"code": THORACENTESIS, "status": "preparation"}]))
    assert not [line for ext in suggestions(body).values() for line in ext.get("lines", [])]
    body = post(client, note_call("Right pigtail removed at bedside, no air leak. No complications.",
                                  procedures=[{"code": {"text": "Chest tube removal"}}]))
    assert not [line for ext in suggestions(body).values() for line in ext.get("lines", [])]
