"""Issue 13, pleural pack completed: every new rule, positive and negative, from the request fixtures in
fhir_fixtures/requests/ (built by fhir_fixtures/build_requests.py), through the HTTP endpoint.
Each row: subject -> (billable lines, not separately billable, gaps, indicator)."""

from __future__ import annotations

import pytest

from .helpers import labels, post, request, suggestions

NONE: list[str] = []

SCENARIOS = {
    # 32550 + its own guidance line 75989 (PC/TC 1: 26 in an inpatient encounter; no side modifier on it).
    "tunneled-catheter-us-guided.encounter-discharge": {
        "Procedure/p1": (["32550-RT", "75989-26"], NONE, NONE, "info")},
    # Negative: no study, ambulatory: no 75989 line.
    "tunneled-catheter-unguided.encounter-discharge": {"Procedure/p1": (["32550-RT"], NONE, NONE, "info")},
    # Fluoroscopy, ambulatory: 75989 without 26; the guidance line has its own documentation requirement.
    "tunneled-catheter-fluoro-no-report.encounter-discharge": {
        "Procedure/p1": (["32550-RT", "75989"], NONE, ["guidance-report"], "warning")},
    # A drain code switched to 32550 by the note (PleurX, tunnel); a separate 76942 charge is not billable with it.
    "tunneled-catheter-selected-by-note.encounter-discharge": {
        "Procedure/p1": (["32550-RT", "75989-26"], ["76942"], NONE, "info")},
    # Same side, same session: 32550 absorbs the thoracentesis before the NCCI pairs are looked at.
    "tunneled-catheter-absorbs-tap.encounter-discharge": {
        "Procedure/p1": (NONE, ["32555"], NONE, "info"),
        "Procedure/p2": (["32550-RT", "75989-26"], NONE, NONE, "info")},
    # Opposite sides: the NCCI pairs apply (32550/32555 and 32555/75989, indicator 1): XS on column 2.
    "tunneled-catheter-opposite-tap.encounter-discharge": {
        "Procedure/p1": (["32555-LT-XS"], NONE, NONE, "info"),
        "Procedure/p2": (["32550-RT", "75989-26-XS"], NONE, NONE, "info")},
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(client, name):
    found = suggestions(post(client, request(name)))
    expected = SCENARIOS[name]
    assert set(found) == set(expected), "exactly the related subjects get a card"
    for subject, (lines, bundled, gaps, indicator) in expected.items():
        ext = found[subject]
        assert labels(ext) == lines, subject
        assert ext.get("notSeparatelyBillable", []) == bundled, subject
        assert ext.get("documentationGaps", []) == gaps, subject
        assert ext["card"]["indicator"] == indicator, subject
        assert ext["rule"].startswith("pleural/")
        assert all(line["units"] == 1 for line in ext.get("lines", []))


def test_guidance_line_is_explained_in_plain_words(client):
    card = suggestions(post(client, request("tunneled-catheter-us-guided.encounter-discharge")))["Procedure/p1"]
    detail = card["card"]["detail"]
    assert "75989 is billed as its own line with 32550" in detail.replace("\\", "")
    assert "ImagingStudy/img-1" in detail.replace("\\", "")
    assert card["card"]["summary"].startswith("Bill 32550-RT, 75989-26: tunneled pleural catheter")
