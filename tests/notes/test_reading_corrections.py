"""Reading notes written by others: an addendum correcting the side, a European note (decimal comma, a cannula
taken out after draining into a bag), a discharge summary's hospital course, a paracentesis given up for want of
a safe window (each test is the general rule, in words of our own)."""

from __future__ import annotations

from tests.coding.helpers import labels

from .kit import card_for, evidence_by_field

PARACENTESIS = {"system": "http://snomed.info/sct", "code": "89305009", "display": "Abdominal paracentesis"}


def test_an_addendum_correcting_the_side_wins(client):
    text = ("Thoracentesis on the right, no imaging. 700 mL drained, catheter removed. No complications.\n\n"
            "Addendum: the side above is wrong, the tap was done on the left chest.")
    ext = card_for(client, text)
    assert labels(ext) == ["32554-LT"]
    assert evidence_by_field(ext)["side"]["value"] == "left"


def test_a_decimal_comma_and_a_cannula_taken_out_after_draining_into_a_bag(client):
    text = ("Pleural puncture, left, landmark technique. Plastic cannula placed, needle withdrawn, cannula attached "
            "to a collecting bag; 0,9 l drained. Then the cannula was removed and a plaster applied. "
            "Complications: none.")
    ext = card_for(client, text)
    assert labels(ext) == ["32554-LT"]
    found = evidence_by_field(ext)
    assert found["fate"]["value"] == "removed" and found["volume"]["value"] == 900


def test_the_hospital_course_of_a_discharge_summary_is_the_act_and_an_old_tap_is_not(client):
    text = ("DISCHARGE SUMMARY\n"
            "History: bilateral effusions. Two months ago a left thoracentesis drained 1 L.\n"
            "Hospital course: diuresed. On day 3 a right thoracentesis was done with bedside ultrasound, images "
            "saved; 1.1 liters removed and the catheter removed. No complications.\n"
            "Follow-up: clinic in 2 weeks.")
    ext = card_for(client, text, imaging=[{"modality": "US", "instances": 2, "procedure": 0}])
    assert labels(ext) == ["32555-RT"]
    found = evidence_by_field(ext)
    assert found["volume"]["value"] == 1100 and found["fate"]["value"] == "removed"
    assert "complications" not in ext.get("documentationGaps", [])


def test_a_paracentesis_given_up_for_want_of_a_safe_window_bills_the_scan(client):
    text = ("[Procedure] Paracentesis attempted\n[Ultrasound] images saved\n"
            "[Findings] Small-volume ascites, no safe window for the needle\n[Outcome] Not done")
    ext = card_for(client, text, procedures=[{"code": PARACENTESIS, "status": "not-done"}], diagnoses=("R18.8",),
                   imaging=[{"modality": "US", "instances": 2, "procedure": 0}])
    assert labels(ext) == ["76705"]  # in an office: the whole scan (in a facility, -26)
