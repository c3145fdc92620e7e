"""Reading notes, general misreadings: template checkboxes, fate words without a catheter subject, oxygen flows
and dictated volumes, single-line "Label: value" headings, abbreviated complication and guidance statements."""

from __future__ import annotations

import pytest

from cds_service.text.quantities import volume_ml
from tests.coding.helpers import labels

from .kit import card_for, evidence_by_field


def _gaps(ext: dict) -> set[str]:
    return set(ext.get("documentationGaps", []))


@pytest.mark.parametrize("text, line, fate", [
    ("Thoracentesis performed. 600 mL drained.\nCatheter: [ ] Left in place [x] Removed\nSide: [ ] R [x] L\n"
     "Complications: none", "32554-LT", "removed"),
    ("Thoracentesis performed. 600 mL drained.\nLaterality: [X] Right [ ] Left\nCatheter: (x) removed ( ) left in "
     "place\nComplications: none", "32554-RT", "removed"),
    ("Thoracentesis performed. 600 mL drained.\nSide: ☐ Right ☑ Left\nCatheter: ☒ Removed ☐ Left in place\n"
     "Complications: none", "32554-LT", "removed"),
    ("Thoracentesis performed. 600 mL drained.\nRight [ ]  Left [x]\nCatheter left in place [ ]\nCatheter removed "
     "[X]\nComplications: none", "32554-LT", "removed"),
    ("Pleural catheter placement. 600 mL drained.\nSide: ☒ Right ☐ Left\nCatheter: [x] Left in place, to suction "
     "[ ] Removed\nComplications: none", "32556-RT", "stayed"),
])
def test_an_unchecked_box_is_no_mention_of_its_label_and_a_checked_one_is(client, text, line, fate):
    ext = card_for(client, text)
    assert labels(ext) == [line]
    assert evidence_by_field(ext)["fate"]["value"] == fate


@pytest.mark.parametrize("text", [
    "Thoracentesis on the right, 800 mL drained. Nothing left in. No complications.",
    "Right thoracentesis, 800 mL drained, no catheter left in. No complications.",
    "Right thoracentesis, 800 mL drained, cath removed at end, nothing left in. No complications.",
])
def test_nothing_left_in_is_removed(client, text):
    ext = card_for(client, text)
    assert labels(ext) == ["32554-RT"]
    assert evidence_by_field(ext)["fate"]["value"] == "removed"
    assert "catheter-disposition" not in _gaps(ext)


@pytest.mark.parametrize("text", [
    "Right thoracentesis, 800 mL drained, catheter removed. Patient to stay in his own room tonight. "
    "No complications.",
    "Right thoracentesis, 800 mL drained, catheter removed. She will stay in the hospital overnight. "
    "No complications.",
])
def test_a_patient_staying_somewhere_is_not_the_catheter_staying(client, text):
    ext = card_for(client, text)
    assert labels(ext) == ["32554-RT"]
    assert evidence_by_field(ext)["fate"]["value"] == "removed"


@pytest.mark.parametrize("text, ml", [
    ("Right thoracentesis, 700 mL drained, catheter removed. Oxygen weaned from 3 L to 1 L. No complications.", 700),
    ("Right thoracentesis, on 2 L nasal cannula, 650 cc drained, catheter removed. No complications.", 650),
    ("Right thoracentesis, catheter removed, 450 mL removed. Now on 4 L NC. No complications.", 450),
    ("Right thoracentesis, 900 mL drained, catheter removed; went from 1 to 3 liters of oxygen. No complications.",
     900),
    ("Right thoracentesis, catheter removed, one point three liters drained, now on two liters nasal cannula. "
     "No complications.", 1300),
])
def test_oxygen_flows_are_not_the_volume_drained(client, text, ml):
    ext = card_for(client, text)
    assert evidence_by_field(ext)["volume"]["value"] == ml


def test_a_note_whose_only_liters_are_oxygen_has_no_volume(client):
    ext = card_for(client, "Right thoracentesis, catheter removed. Patient on 2 L NC throughout. No complications.")
    assert "volume" not in evidence_by_field(ext) and "fluid-volume" in _gaps(ext)


@pytest.mark.parametrize("text, ml", [
    ("one point three liters", 1300), ("seven hundred and fifty milliliters", 750),
    ("two thousand two hundred cc", 2200), ("one liter", 1000), ("a liter and a half", 1500),
])
def test_dictated_volumes(client, text, ml):
    assert volume_ml(text) == ml
    ext = card_for(client, f"right thoracentesis we took off {text} of straw colored fluid catheter removed "
                        "no complications")
    assert evidence_by_field(ext)["volume"]["value"] == ml


@pytest.mark.parametrize("heading", ["Indication: left pleural effusion", "Reason for procedure: dyspnea, effusion",
                                     "History: CHF with recurrent effusions"])
def test_a_single_line_field_ends_its_section_at_the_line_end(client, heading):
    ext = card_for(client, f"{heading}\nLeft thoracentesis performed in the usual fashion. 1.1 L drained. The "
                        "catheter was removed.\nNo complications.")
    assert labels(ext) == ["32554-LT"]
    evidence = evidence_by_field(ext)
    assert evidence["fate"]["value"] == "removed" and evidence["volume"]["value"] == 1100
    assert not {"fluid-volume", "complications", "catheter-disposition"} & _gaps(ext)


def test_a_heading_on_its_own_line_still_runs_to_the_next_heading(client):
    ext = card_for(client, "Right thoracentesis. 500 mL drained. Catheter removed.\nPlan:\nRepeat thoracentesis on "
                        "the left next visit.\nNo complications expected.")
    assert labels(ext) == ["32554-RT"]


@pytest.mark.parametrize("statement", ["No compl.", "compl: none", "Compl: 0", "Complications: 0"])
def test_abbreviated_complication_statements(client, statement):
    ext = card_for(client, f"Right thoracentesis, 600 mL drained, catheter removed. {statement}")
    assert "complications" not in _gaps(ext)


@pytest.mark.parametrize("text", ["US-g R thoracentesis", "US guided R thoracentesis", "u/s guided R thoracentesis",
                                  "R thoracentesis, US-guided"])
def test_abbreviated_guidance_is_a_claim(client, text):
    ext = card_for(client, f"{text}, 600 mL drained, catheter removed. No complications.")
    assert "guidance" in evidence_by_field(ext)


def test_unboxing_blanks_unchecked_labels_and_checked_marks_and_keeps_offsets():
    from cds_service.text.checkboxes import unbox

    text = "Fate: [ ] kept in [X] out\nSide: ( ) R (x) L\nSee (above) [1]."
    read = unbox(text)
    assert len(read) == len(text) and read.count("\n") == 2
    assert "kept" not in read and " R " not in read and "out" in read and read.split("\n")[1].strip().endswith("L")
    assert read.endswith("See (above) [1].")
    assert unbox("Left in place [ ]  Removed [x]").split() == ["Removed"]


def test_sections_of_one_line_fields_wrapped_values_and_headings_alone_on_their_line():
    from cds_service.text.pipeline import ConceptRule, TextReader

    reader = TextReader((ConceptRule("t|effusion|", r"\beffusion\b"),))
    text = ("Indication: dyspnea from a large\nrecurrent effusion\nThe effusion was drained.\nPlan:\nRepeat if the "
            "effusion recurs.\nThe effusion may recur.\nFindings: small effusion\nThe effusion was straw colored.")
    assert [m.section for m in reader.read(text)] == ["indication", None, "plan", "plan", "findings", None]


@pytest.mark.parametrize("field", ["Ultrasound guidance: No", "Ultrasound guided: [ ] Yes [x] No",
                                   "US used: none"])
def test_a_template_field_answered_no_is_no_claim(client, field):
    ext = card_for(client, f"Thoracentesis note\nSide: Right\n{field}\nFluid: 700 mL\nCatheter removed.\n"
                        "Complications: None")
    assert labels(ext) == ["32554-RT"] and "guidance" not in evidence_by_field(ext)


@pytest.mark.parametrize("text", [
    "Right thoracentesis, 8 Fr catheter advanced, 800 mL drained; catheter not left in. No complications.",
    "Right thoracentesis, 800 mL drained, no drain left behind. Patient remains in stable condition. "
    "No complications.",
    "Right thoracentesis, 800 mL drained, catheter withdrawn. Patient remained in the ED for observation. "
    "No complications.",
])
def test_more_fate_wordings_without_a_staying_device(client, text):
    ext = card_for(client, text)
    assert labels(ext) == ["32554-RT"]
    assert "catheter-disposition" not in _gaps(ext)


@pytest.mark.parametrize("text, ml", [
    ("Right thoracentesis, 750 cc drained, catheter removed. SpO2 93% on 3L, requiring 5 L earlier. "
     "No complications.", 750),
    ("Right thoracentesis, 750 cc drained, catheter removed, increased O2 to 4 L afterwards. No complications.", 750),
])
def test_more_oxygen_wordings(client, text, ml):
    assert evidence_by_field(card_for(client, text))["volume"]["value"] == ml


@pytest.mark.parametrize("statement", ["No complic.", "complics: none", "Compl - none", "no immed compl"])
def test_more_abbreviated_complication_statements(client, statement):
    ext = card_for(client, f"Right thoracentesis, 600 mL drained, catheter removed. {statement}")
    assert "complications" not in _gaps(ext)


@pytest.mark.parametrize("text", ["U/S-guided R thoracentesis", "R thoracentesis (US-g)", "R thora under u/s",
                                  "R thoracentesis, sono-guided"])
def test_more_abbreviated_guidance_claims(client, text):
    ext = card_for(client, f"{text}, 600 mL drained, catheter removed. No complications.")
    assert "guidance" in evidence_by_field(ext)


@pytest.mark.parametrize("fields, line", [
    ("Side: Right [ ] Left [x]", "32554-LT"),
    ("Side: [ ] R [X] L", "32554-LT"),
    ("(x) Left ( ) Right", "32554-LT"),
    ("Left: X\nRight: ___", "32554-LT"),
    ("☐ Right ☒ Left", "32554-LT"),
    ("Right: no\nLeft: yes", "32554-LT"),
    ("Side: [x] Right [ ] Left   Ultrasound: [ ] yes [x] no", "32554-RT"),
])
def test_mixed_checkbox_and_field_layouts_give_the_checked_side(client, fields, line):
    ext = card_for(client, f"Thoracentesis.\n{fields}\n800 mL removed. Catheter removed. No complications.")
    assert labels(ext) == [line]
    assert "saved-images" not in _gaps(ext)


def test_a_label_stops_at_the_next_field_and_a_blank_field_says_nothing(client):
    ext = card_for(client, "Thoracentesis.\nSide: [x] Left [ ] Right   Ultrasound: [x] yes [ ] no\n800 mL removed. "
                           "Catheter removed.\nComplications: ____")
    assert labels(ext) == ["32554-LT"]
    assert {"saved-images", "complications"} <= _gaps(ext)  # guidance claimed without images; blank field
