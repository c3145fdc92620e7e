"""Reading joint notes: the side and the digit of the joint, the site of each joint of a note shared by two
procedures, the aspirated volume beside injected ones, spoken and per-side drug doses, template checkboxes."""

from __future__ import annotations

import pytest

from tests.coding.helpers import labels, post, suggestions

from .kit import card_for, evidence_by_field, note_call

OA = ("M17.11",)


def _joint(text: str, body_site: str | None = None) -> dict:
    proc = {"code": {"text": text}}
    if body_site:
        proc["body_site"] = body_site
    return proc


@pytest.mark.parametrize("note, code_text, lines", [
    ("R knee aspiration, 30 cc yellow fluid. No complications.", "Arthrocentesis, knee", ["20610-RT"]),
    ("Lt shoulder inj, posterior approach, palpation. No compl.", "Shoulder injection", ["20610-LT"]),
    ("R/B/A discussed. Left wrist aspirated, 2 mL. No complications.", "Arthrocentesis, wrist", ["20605-LT"]),
    ("Bilat knee aspirations by landmarks. No complications.", "Arthrocentesis, knee", ["20610-50"]),
    # the side the note gives the coded joint, not another joint it talks about
    ("Right knee injection, landmarks. Asked about a left shoulder injection, maybe next time. No complications.",
     "Knee injection", ["20610-RT"]),
    ("Knee: left. Procedure: aspiration. Aspirate: 22 mL. Complications: none.", "Arthrocentesis", ["20610-LT"]),
])
def test_the_side_of_a_joint_is_read_from_the_note(client, note, code_text, lines):
    ext = card_for(client, note, procedures=[_joint(code_text)], diagnoses=OA)
    assert labels(ext) == lines
    assert "laterality" not in ext.get("documentationGaps", [])


@pytest.mark.parametrize("note, code_text, lines", [
    ("Left 1st MTP aspirated, 0.4 mL chalky fluid. No complications.", "Arthrocentesis, toe", ["20600-TA"]),
    ("R index finger PIP joint injected, nothing aspirated. No complications.", "Finger joint injection",
     ["20600-F6"]),
    # no digit in the note: the side alone, and the gap asks for the digit
    ("Right finger joint aspirated. No complications.", "Finger joint aspiration", ["20600-RT"]),
])
def test_a_digit_the_note_names_gives_the_digit_modifier(client, note, code_text, lines):
    ext = card_for(client, note, procedures=[_joint(code_text)], diagnoses=("M10.041",))
    assert labels(ext) == lines
    assert ("laterality" in ext.get("documentationGaps", [])) == (lines == ["20600-RT"])


def test_several_joints_of_one_procedure_named_in_the_note_are_each_a_line(client):
    ext = card_for(client, "Right 2nd MTP and right 3rd MTP injected, nothing aspirated. No complications.",
                   procedures=[_joint("Toe joint injection")], diagnoses=("M10.071",))
    assert labels(ext) == ["20600-T6", "20600-T7"]


def test_two_joints_of_one_note_each_get_their_own_site_side_and_drug(client):
    note = ("Two joints injected by landmarks.\nRight knee: osteoarthritis. Triamcinolone 40 mg with 3 mL "
            "lidocaine.\nLeft ankle: arthritis. Dexamethasone 4 mg with 1 mL lidocaine.\nNo complications.")
    found = suggestions(post(client, note_call(note, procedures=[_joint("Joint injection"), _joint("Joint injection")],
                                               diagnoses=OA)))
    assert labels(found["Procedure/p1"]) == ["20610-RT", "J3301"]
    assert found["Procedure/p1"]["lines"][1]["units"] == 4
    assert labels(found["Procedure/p2"]) == ["20605-LT", "J1100"]
    assert found["Procedure/p2"]["lines"][1]["units"] == 4


def test_the_aspirated_volume_is_not_an_injected_one(client):
    note = ("Right knee: aspirated 20 mL of cloudy fluid, then Kenalog 40 mg with 5 mL 1% lidocaine injected. "
            "No complications.")
    ext = card_for(client, note, procedures=[_joint("Knee injection")], diagnoses=OA)
    assert evidence_by_field(ext)["volume"]["value"] == 20
    assert labels(ext) == ["20610-RT", "J3301"]


@pytest.mark.parametrize("note, body_site, drug", [
    ("Right knee injected with eighty milligrams of depo medrol. No complications.", None, ("J1040", 1)),
    ("Left knee injection, triamcinolone forty milligrams. No complications.", None, ("J3301", 4)),
    ("Both knees injected, Kenalog 40 mg into each knee. No complications.", None, ("J3301", 8)),
    ("Knee injections, methylprednisolone 40 mg each side. No complications.", "bilateral", ("J1040", 1)),
    ("Right knee injected with Kenalog-40, 2 mL, and 4 mL lidocaine. No complications.", None, ("J3301", 8)),
    ("Left knee: Depo-Medrol 80 mg/mL, 1 mL, with 3 mL lidocaine. No complications.", None, ("J1040", 1)),
    ("L knee inj w/ methylpred 40 mg. No compl.", None, ("J1030", 1)),
    ("Laterality: Bilateral\nMedication: Kenalog 40 mg per knee\nComplications: none", None, ("J3301", 8)),
    # a dose restated in mL before the per-side words; a drug name wrapped over two lines
    ("Both knees: Celestone 6 mg = 1 mL into each knee. No complications.", "bilateral", ("J0702", 2)),
    ("Right knee: a mix of methylprednisolone\n  acetate 80 mg and 3 mL lignocaine injected. Complications: nil.",
     None, ("J1040", 1)),
    # a negation of another thing earlier in the clause does not negate the drug
    ("Left knee entered without aspirate and Kenalog 40 mg injected. No complications.", None, ("J3301", 4)),
])
def test_spoken_and_per_side_doses(client, note, body_site, drug):
    ext = card_for(client, note, procedures=[_joint("Knee injection", body_site)], diagnoses=OA)
    line = next(line for line in ext["lines"] if line["code"].startswith("J"))
    assert (line["code"], line["units"]) == drug


def test_a_drug_the_note_negates_is_no_line(client):
    note = "Right knee aspirated, 30 mL of clear fluid. No Kenalog given today. No complications."
    ext = card_for(client, note, procedures=[_joint("Knee aspiration")], diagnoses=OA)
    assert labels(ext) == ["20610-RT"]


@pytest.mark.parametrize("note, lines", [
    ("Exam: Right knee: effusion. Left knee: trace fluid.\nProcedure: right knee aspiration, 25 mL. No complications.",
     ["20610-RT"]),
    ("R GHJ inj, posterior approach by landmarks. TA 40mg. No cx.", ["20610-RT", "J3301"]),
    ("Injecton of the left ankel, dexa 4mg. No complications.", ["20605-LT", "J1100"]),
])
def test_the_act_s_own_phrase_names_the_joint_and_side(client, note, lines):
    ext = card_for(client, note, procedures=[_joint("Joint injection")], diagnoses=OA)
    assert labels(ext) == lines


def test_an_unchecked_template_box_names_no_joint(client):
    note = ("Joint: [ ] Knee  [x] Shoulder  [ ] Hip\nSide: [x] Right  [ ] Left\nMedication: triamcinolone 40 mg\n"
            "Complications: none")
    ext = card_for(client, note, procedures=[_joint("Intra-articular steroid injection")], diagnoses=OA)
    assert labels(ext) == ["20610-RT", "J3301"]
