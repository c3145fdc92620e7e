"""Reading notes written by others: an addendum correcting the side, a European note (decimal comma, a cannula
taken out after draining into a bag), a discharge summary's hospital course, a paracentesis given up for want of
a safe window (each test is the general rule, in words of our own)."""

from __future__ import annotations

from tests.coding.helpers import labels

from .kit import DRAIN, card_for, evidence_by_field

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


def test_abbreviated_complication_statements_and_removals(client):
    for text in ("Para LLQ, landmark. 3.5L. Caths out. NCx.",
                 "Para LLQ, landmark. 3.5L. Cath rmvd. Nil cx."):
        ext = card_for(client, text, procedures=[{"code": PARACENTESIS}], diagnoses=("R18.8",))
        assert "complications" not in ext.get("documentationGaps", [])
        found = evidence_by_field(ext)
        assert found["complications"]["value"] is True and found["fate"]["value"] == "removed"


def test_a_volume_whose_unit_is_in_the_field_label(client):
    text = ("Thoracentesis\nSide | Left\nGuidance | none\nCatheter | removed at the end\n"
            "Volume drained (mL) | 750\nComplications | none")
    ext = card_for(client, text)
    assert labels(ext) == ["32554-LT"] and "fluid-volume" not in ext.get("documentationGaps", [])
    assert evidence_by_field(ext)["volume"]["value"] == 750


def test_an_intercostal_catheter_on_an_underwater_seal_stays(client):
    ext = card_for(client, "R ICC 14Fr, landmark, no US. Stitched, on UWSD. 600 mL out. Nil cx. ICC in situ.",
                   procedures=[{"code": DRAIN}])
    assert labels(ext) == ["32556-RT"] and evidence_by_field(ext)["fate"]["value"] == "stayed"


def test_a_volume_said_to_be_taken_out_after_the_anaesthetic_and_a_drain_removed(client):
    text = ("Paracentesis under ultrasound guidance, image saved. With 4 mL lidocaine 1% local anaesthesia, 80 mL "
            "of cloudy fluid was aspirated for cell count. Drain removed, site dry. Complications: none.")
    ext = card_for(client, text, procedures=[{"code": PARACENTESIS}], diagnoses=("R18.8",),
                   imaging=[{"modality": "US", "instances": 1, "procedure": 0}])
    found = evidence_by_field(ext)
    assert found["volume"]["value"] == 80 and found["fate"]["value"] == "removed"


def test_a_procedure_account_titled_with_a_dash_inside_the_plan_is_the_act(client):
    text = ("Assessment and plan:\n1. Large left effusion: diuresis; thoracentesis today.\n\n"
            "PROCEDURE NOTE — thoracentesis, left (11:00)\n"
            "Landmark technique, no imaging. Catheter placed, 1.2 L drained, catheter removed. No complications.")
    ext = card_for(client, text)
    assert labels(ext) == ["32554-LT"]
    assert not {"fluid-volume", "complications", "catheter-disposition"} & set(ext.get("documentationGaps", []))


def test_a_misspelt_complications_statement_counts_but_a_complicated_effusion_does_not(client):
    ext = card_for(client, "Paracentesis RLQ, landmark. 2 L removed. Catheter withdrawn. No complicatiosn.",
                   procedures=[{"code": PARACENTESIS}], diagnoses=("R18.8",))
    assert "complications" not in ext.get("documentationGaps", [])
    ext = card_for(client, "Left thoracentesis for a complicated effusion, landmark. 900 mL. Catheter removed.")
    assert "complications" in ext.get("documentationGaps", [])
