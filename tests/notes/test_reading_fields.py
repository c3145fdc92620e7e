"""Reading notes written by others: catheter fate, volume, complications and attribution phrasings found in a
held-out set (each test is the general rule, in words of our own)."""

from __future__ import annotations

import pytest

from tests.coding.helpers import labels, post, suggestions

from .kit import DRAIN, THORACENTESIS, card_for, evidence_by_field, note_call

PARACENTESIS = {"system": "http://snomed.info/sct", "code": "89305009", "display": "Abdominal paracentesis"}
BILLING_GAPS = {"indication", "laterality", "saved-images", "fluid-volume", "complications", "catheter-disposition",
                "agent-and-dose"}


def test_a_paracentesis_catheter_that_came_out_is_cited_as_removed(client):
    for text in ("Para LLQ, no US. 3 L off. Cath d/c'd. No compl.",
                 "Paracentesis, landmark technique. 2.5 liters drained. The catheter was withdrawn intact. "
                 "No complications."):
        ext = card_for(client, text, procedures=[{"code": PARACENTESIS}], diagnoses=("R18.8",))
        assert labels(ext) == ["49082"] and not BILLING_GAPS & set(ext.get("documentationGaps", []))
        assert evidence_by_field(ext)["fate"]["value"] == "removed"


def test_volume_removed_in_a_template_is_not_the_catheter_fate(client):
    ext = card_for(client, "Thoracentesis\nSide: left\nDevice: 8 Fr catheter-over-needle\nVolume removed: 800 mL\n"
                           "Catheter disposition: ***\nComplications: none")
    assert labels(ext) == ["32554-LT"] and "catheter-disposition" in ext["documentationGaps"]


def test_a_drain_named_at_the_end_of_a_two_procedure_note_is_not_the_tap(client):
    call = note_call("R chest: under ultrasound (images saved) a 12 Fr pigtail was placed, sutured and left to -20 "
                     "suction; 800 mL. L chest: ultrasound-guided tap (image saved), 450 mL, catheter removed at the "
                     "end. No complications. CXR: drain in good position.",
                     procedures=[{"code": DRAIN}, {"code": THORACENTESIS, "start": "2026-03-04T10:45:00Z"}],
                     imaging=[{"modality": "US", "instances": 2, "procedure": 0},
                              {"modality": "US", "instances": 2, "procedure": 1}])
    found = suggestions(post(client, call))
    assert labels(found["Procedure/p1"]) == ["32557-RT"] and labels(found["Procedure/p2"]) == ["32555-LT"]


def test_a_sentence_about_all_the_catheters_is_said_of_each_act(client):
    call = note_call("Left thoracentesis: 650 mL.\nRight thoracentesis: 700 mL.\nCatheters removed. No complications.",
                     procedures=[{"code": THORACENTESIS, "body_site": "left"},
                                 {"code": THORACENTESIS, "body_site": "right", "start": "2026-03-04T10:40:00Z"}])
    found = suggestions(post(client, call))
    for key in ("Procedure/p1", "Procedure/p2"):
        assert evidence_by_field(found[key])["fate"]["value"] == "removed"


def test_volumes_of_one_act_on_both_sides_add_up_and_digits_beat_a_rounder_figure_in_words(client):
    ext = card_for(client, "Bilateral thoracentesis, no imaging. R 600 mL, L 500 mL. Catheters removed. "
                           "No complications.")
    assert evidence_by_field(ext)["volume"]["value"] == 1100
    ext = card_for(client, "Paracentesis without imaging. We drained just under five liters (4.8 L). The catheter "
                           "was removed. No complications.", procedures=[{"code": PARACENTESIS}], diagnoses=("R18.8",))
    assert evidence_by_field(ext)["volume"]["value"] == 4800


def test_an_earlier_procedures_volume_is_not_this_volume(client):
    ext = card_for(client, "She had a right thoracentesis two weeks ago that yielded about 2 L. Today right "
                           "thoracentesis without imaging, 1.5 liters removed, catheter removed. No complications.")
    assert evidence_by_field(ext)["volume"]["value"] == 1500


def test_a_later_fibrinolytic_day_in_words_and_a_dose_in_words(client):
    ext = card_for(client, "intrapleural therapy day two through the existing right chest tube alteplase ten "
                           "milligrams and dornase five milligrams instilled clamped one hour then back to suction "
                           "no complications",
                   procedures=[{"code": {"text": "Intrapleural fibrinolytic instillation"}}], diagnoses=("J86.9",))
    assert labels(ext) == ["32562-RT"] and not BILLING_GAPS & set(ext.get("documentationGaps", []))


def test_draining_an_existing_tunneled_catheter_and_an_open_chest_tube(client):
    found = suggestions(post(client, note_call(
        "Home visit: drained the existing right PleurX catheter (placed 2/10), 500 mL, recapped. No complications.",
        procedures=[{"code": {"text": "Drainage of indwelling pleural catheter"}}])))
    assert not any(labels(ext) for ext in found.values())
    ext = card_for(client, "Right chest: 2 cm incision, blunt dissection over the rib, finger sweep, 28F chest tube "
                           "placed, 900 mL blood out, secured, to Pleur-evac. No complications.",
                   procedures=[{"code": {"text": "Chest tube insertion"}}], diagnoses=("S27.1XXA",))
    assert labels(ext) == ["32551-RT"]


def test_air_only_states_the_volume_and_an_empty_complications_field_states_nothing(client):
    ext = card_for(client, "Left pigtail for pneumothorax, no imaging, 14 Fr, sutured, to Pneumostat. Air only, no "
                           "fluid. No complications.", procedures=[{"code": DRAIN}], diagnoses=("J93.9",))
    assert labels(ext) == ["32556-LT"] and not BILLING_GAPS & set(ext.get("documentationGaps", []))
    ext = card_for(client, "Thoracentesis, right, no imaging. 900 mL removed. Catheter removed.\nComplications: ***")
    assert BILLING_GAPS & set(ext["documentationGaps"]) == {"complications"}


def test_rt_as_real_time_is_no_side(client):
    ext = card_for(client, "Proc: L thora under RT US (imgs archived). 1.2L removed. Cath out. No comps.")
    assert evidence_by_field(ext)["side"]["value"] == "left"


def test_the_other_side_tapped_at_another_hospital_is_history(client):
    ext = card_for(client, "Lung cancer; she had a right-sided thoracentesis in March at another hospital. "
                           "Today a left thoracentesis without imaging, 1.5 litres drained, catheter removed. "
                           "No complications.")
    assert evidence_by_field(ext)["side"]["value"] == "left"


@pytest.mark.parametrize("text", [
    "Removal of left intercostal drain (non-tunnelled Seldinger drain): lung re-expanded. Suture cut, drain "
    "removed, occlusive dressing. No complications.",
    "Right chest tube removal today, output minimal; tube pulled on expiration, dressing applied.",
])
def test_taking_out_a_drain_that_is_not_tunneled_is_billed_as_nothing(client, text):
    """Removing an ordinary drain is part of its placement: not a tunneled catheter's removal, not a tap."""
    found = suggestions(post(client, note_call(text, procedures=[{"code": {"text": "Removal of chest drain"}}])))
    assert not any(labels(ext) for ext in found.values())
