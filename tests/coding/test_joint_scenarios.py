"""Issue 13, joints: every arthrocentesis rule, positive and negative, from the request fixtures in
fhir_fixtures/requests/joint-*, through the HTTP endpoint. Each row: subject -> (lines with units when not
1, not separately billable, gaps, indicator)."""

from __future__ import annotations

import pytest

from .helpers import post, request, suggestions

NO_GAPS: list[str] = []

SCENARIOS = {
    # Site from bodySite codes (72696002 knee + a Right qualifier) -> major class; 40 mg triamcinolone -> J3301 x4;
    # lidocaine is no line.
    "joint-knee-triamcinolone.encounter-discharge": {"Procedure/p1": (["20610-RT", "J3301 x4"], [], NO_GAPS, "info")},
    # Ultrasound with saved images and a report -> the with-ultrasound code; the 76942 charge is never billed
    # with it; 80 mg methylprednisolone acetate -> J1040 x1 (not J1030 x2).
    "joint-knee-us-guided.note-sign": {"Procedure/p1": (["20611-LT", "J1040"], ["76942"], NO_GAPS, "info")},
    # Negative: images saved but no report -> without-ultrasound code and the guidance-report gap.
    "joint-us-no-report.encounter-discharge": {"Procedure/p1": (["20610-RT"], [], ["guidance-report"], "warning")},
    # Negative: ultrasound claimed in the note, no images -> without-ultrasound code and saved-images gap;
    # wrist -> intermediate class.
    "joint-us-no-images.encounter-discharge": {"Procedure/p1": (["20605-LT"], [], ["saved-images"], "warning")},
    # Both knees in one session -> one 50 line on the first card; each knee's own drug on its own card.
    "joint-both-knees.encounter-discharge": {
        "Procedure/p-right": (["20610-50", "J3301 x4"], [], NO_GAPS, "info"),
        "Procedure/p-left": (["J3301 x4"], [], NO_GAPS, "info")},
    # Both knees (36701003) for an rt-lt payer -> one line per side, no XS between the two sides.
    "joint-both-knees-rt-lt-payer.encounter-discharge": {
        "Procedure/p1": (["20610-RT", "20610-LT"], [], NO_GAPS, "info")},
    # Different joints -> one line each with its side; XS on the later line of the same code only.
    "joint-three-joints.encounter-discharge": {
        "Procedure/p1": (["20610-RT", "20610-RT-XS", "20605-LT"], [], NO_GAPS, "info")},
    # Digits documented -> F6/F7 instead of RT, no XS between different digit modifiers; the toe without its
    # digit keeps LT and gets XS, and the laterality gap asks for its digit.
    "joint-fingers-and-toe.encounter-discharge": {
        "Procedure/p1": (["20600-F6", "20600-F7", "20600-LT-XS"], [], ["laterality"], "warning")},
    # NCCI 20604/20600 (indicator 1) on different digits: both billed, the digit modifiers mark the sites.
    "joint-fingers-us-and-unguided.encounter-discharge": {
        "Procedure/p1": (["20604-FA", "J3301"], [], NO_GAPS, "info"),
        "Procedure/p2": (["20600-F3"], [], NO_GAPS, "info")},
    # MUE: three units of 20610 in a day exceed 2 -> warning on both cards.
    "joint-mue-three-major.encounter-discharge": {
        "Procedure/p1": (["20610-RT", "20610-RT-XS"], [], NO_GAPS, "warning"),
        "Procedure/p2": (["20610-LT-XS"], [], NO_GAPS, "warning")},
    # No joint anywhere -> no code can be chosen: joint-site (and laterality) gaps.
    "joint-no-site.encounter-discharge": {"Procedure/p1": ([], [], ["joint-site", "laterality"], "warning")},
    # Drug from a MedicationAdministration partOf the procedure (80 mg); its lidocaine is no line.
    "joint-methylprednisolone-administration.encounter-discharge": {
        "Procedure/p1": (["20610-RT", "J1040"], [], NO_GAPS, "info")},
    # Negative: a drug named without a dose -> no drug line, drug-dose gap.
    "joint-drug-without-dose.encounter-discharge": {"Procedure/p1": (["20610-RT"], [], ["drug-dose"], "warning")},
    # Betamethasone by volume: 1 mL of the 6 mg/mL suspension -> J0702 x1; ankle by SNOMED 344001.
    "joint-betamethasone-ml.encounter-discharge": {"Procedure/p1": (["20605-LT", "J0702"], [], NO_GAPS, "info")},
    "joint-dexamethasone-and-lidocaine.encounter-discharge": {
        "Procedure/p1": (["20605-LT", "J1100 x4"], [], NO_GAPS, "info")},
    # Negative: only a local anaesthetic -> no drug line and no drug-dose gap.
    "joint-aspiration-lidocaine-only.encounter-discharge": {"Procedure/p1": (["20610-RT"], [], NO_GAPS, "info")},
    # Fluoroscopy never makes the with-ultrasound code: the without-ultrasound code plus 77002 as its own line
    # (26 in a facility encounter, no side modifier), with its report.
    "joint-fluoroscopic-guidance.encounter-discharge": {
        "Procedure/p1": (["20610-LT", "77002-26", "J3301 x4"], [], NO_GAPS, "info")},
    # Negative: the guidance line without a guidance report -> its guidance-report gap (outpatient: no 26).
    "joint-fluoroscopy-no-report.encounter-discharge": {
        "Procedure/p1": (["20610-LT", "77002"], [], ["guidance-report"], "warning")},
    # CT guidance, two joints in one session: one 77012 line for the session.
    "joint-ct-guided-two-joints.encounter-discharge": {
        "Procedure/p1": (["20610-RT", "20610-RT-XS", "77012"], [], NO_GAPS, "info")},
    # A note shared by both knees: "into each knee" gives each knee its dose; the bilateral line on the first.
    "joint-shared-note-each-knee.note-sign": {
        "Procedure/p-right": (["20610-50", "J3301 x4"], [], NO_GAPS, "info"),
        "Procedure/p-left": (["J3301 x4"], [], NO_GAPS, "info")},
    # Negative: the shared note gives the drug to the right knee only.
    "joint-shared-note-one-knee-injected.note-sign": {
        "Procedure/p-right": (["20610-50", "J3301 x4"], [], NO_GAPS, "info"),
        "Procedure/p-left": ([], [], NO_GAPS, "info")},
    # Site from the procedure's own note, only where the sentence says what was done (not the old hip).
    "joint-site-from-note.encounter-discharge": {"Procedure/p1": (["20610-LT"], [], NO_GAPS, "info")},
    # The text pipeline's ConText: a past shoulder injection is no site, a planned triamcinolone dose no drug line.
    "joint-planned-drug-and-past-site.encounter-discharge": {"Procedure/p1": (["20610-LT"], [], NO_GAPS, "info")},
    # A CPT code on the resource with no site named: its class is kept, the site and side gaps stay open.
    "joint-cpt-without-site.encounter-discharge": {
        "Procedure/p1": (["20610"], [], ["joint-site", "laterality"], "warning")},
    # Order-sign: a draft fluoroscopic guidance order is billed as its own line (26: inpatient encounter).
    "joint-hip-with-fluoroscopy-order.order-sign": {"ServiceRequest/sr-1": (["20610-LT", "77002-26"], [], NO_GAPS,
                                                                             "info")},
    # Order-sign: a draft 76942 order makes the order guided and is deleted (never billed with 20611).
    "joint-knee-with-guidance-order.order-sign": {"ServiceRequest/sr-1": (["20611-RT"], ["76942"], NO_GAPS, "info")},
}


def _labels(ext: dict) -> list[str]:
    found = []
    for line in ext.get("lines", []):
        label = "-".join([line["code"], *line.get("modifiers", [])])
        found.append(label if line["units"] == 1 else f"{label} x{line['units']}")
    return found


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_joint_scenario(client, name):
    found = suggestions(post(client, request(name)))
    expected = SCENARIOS[name]
    assert set(found) == set(expected), "exactly the related subjects get a card"
    for subject, (lines, bundled, gaps, indicator) in expected.items():
        ext = found[subject]
        assert _labels(ext) == lines, subject
        assert ext.get("notSeparatelyBillable", []) == bundled, subject
        assert ext.get("documentationGaps", []) == gaps, subject
        assert ext["card"]["indicator"] == indicator, subject
        assert ext["rule"].startswith("arthrocentesis/")


def test_rule_ids_name_the_size_and_the_guidance(client):
    found = suggestions(post(client, request("joint-knee-us-guided.note-sign")))["Procedure/p1"]
    assert found["rule"] == "arthrocentesis/major-joint-with-ultrasound"
    assert "needle tip was visualized" in found["card"]["detail"]
    missing = suggestions(post(client, request("joint-no-site.encounter-discharge")))["Procedure/p1"]
    assert missing["rule"] == "arthrocentesis/site-unknown" and missing["card"]["summary"].startswith("Which site?")


def test_card_explains_sites_digits_and_drugs(client):
    detail = suggestions(post(client, request("joint-fingers-and-toe.encounter-discharge")))["Procedure/p1"][
        "card"]["detail"].replace("\\", "")
    assert "index finger (F6)" in detail and "middle finger (F7)" in detail
    drug = suggestions(post(client, request("joint-dexamethasone-and-lidocaine.encounter-discharge")))["Procedure/p1"]
    assert "4 mg" in drug["card"]["detail"] and "local anaesthetic" in drug["card"]["detail"].replace("\\", "")
    assert "J1100 x4" in drug["card"]["summary"]


def test_mue_warning_names_the_limit(client):
    found = suggestions(post(client, request("joint-mue-three-major.encounter-discharge")))
    assert "3 units of 20610" in found["Procedure/p1"]["card"]["detail"]
    assert "limit of 2" in found["Procedure/p1"]["card"]["detail"]
