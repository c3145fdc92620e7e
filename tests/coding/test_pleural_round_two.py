"""Issue 13, pleural pack completed: every new rule, positive and negative, from the request fixtures in
fhir_fixtures/requests/ (built by fhir_fixtures/build_requests.py), through the HTTP endpoint.
Each row: subject -> (billable lines, not separately billable, gaps, indicator)."""

from __future__ import annotations

import pytest

from tests import calls

from .helpers import assert_expected_cards, post, request, suggestions

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
    "tunneled-catheter-images-not-saved.encounter-discharge": {
        "Procedure/p1": (["32550-RT"], NONE, ["guidance-images"], "warning")},
    # The catheter with no side takes the side of the thoracentesis it includes (no laterality gap).
    "tunneled-catheter-side-from-absorbed-tap.encounter-discharge": {
        "Procedure/p1": (NONE, ["32555"], NONE, "info"),
        "Procedure/p2": (["32550-RT"], NONE, NONE, "info")},
    "tunneled-catheter-absorbs-drain.encounter-discharge": {
        "Procedure/p1": (NONE, ["32556"], NONE, "info"),
        "Procedure/p2": (["32550-RT", "75989"], NONE, NONE, "info")},
    # Opposite sides: the NCCI pairs apply (32550/32555 and 32555/75989, indicator 1): XS on column 2.
    "tunneled-catheter-opposite-tap.encounter-discharge": {
        "Procedure/p1": (["32555-LT-XS"], NONE, NONE, "info"),
        "Procedure/p2": (["32550-RT", "75989-26-XS"], NONE, NONE, "info")},
    # Order-sign: an ordered 75989 is the separate guidance line; an ordered 77002 is not billed with 32550.
    "tunneled-catheter-with-guidance-orders.order-sign": {
        "ServiceRequest/sr-1": (["32550-RT", "75989-26"], ["77002"], NONE, "info")},
    # 32552 by its words and by its CPT code (side from the body site; bilateral indicator 0).
    "tunneled-catheter-removal.encounter-discharge": {"Procedure/p1": (["32552-RT"], NONE, NONE, "info")},
    "tunneled-catheter-removal-by-cpt.note-sign": {"Procedure/p1": (["32552-LT"], NONE, NONE, "info")},
    # 32560 with agent and dose; negative: no dose -> agent-and-dose (and no fluid-volume or specimen checks).
    "pleurodesis-talc.encounter-discharge": {"Procedure/p1": (["32560-RT"], NONE, NONE, "info")},
    "pleurodesis-no-dose.encounter-discharge": {"Procedure/p1": (["32560-RT"], NONE, ["agent-and-dose"], "warning")},
    # Fibrinolytic and sclerosing agents never confused; thoracoscopic poudrage is neither (no card).
    "pleural-instillations-not-confused.encounter-discharge": {
        "Procedure/p1": (["32561-RT"], NONE, NONE, "info"),
        "Procedure/p2": (["32560-LT"], NONE, NONE, "info")},
    # Day sequence: first day, a later day, and a second instillation that day included (one unit a day).
    "fibrinolysis-course.encounter-discharge": {
        "Procedure/p1": (["32561-RT"], NONE, NONE, "info"),
        "Procedure/p2": (["32562-RT"], NONE, NONE, "info"),
        "Procedure/p3": (NONE, ["32562"], NONE, "info")},
    # The first day in an earlier encounter (prefetched with it), 3 days before: a later day.
    "fibrinolysis-earlier-encounter-prefetched.encounter-discharge": {
        "Procedure/p1": (["32562-RT"], NONE, NONE, "info")},
    # Negative: 20 days before, another encounter: a new course.
    "fibrinolysis-old-course.encounter-discharge": {"Procedure/p1": (["32561-RT"], NONE, NONE, "info")},
    "fibrinolysis-no-dose.encounter-discharge": {"Procedure/p1": (["32561-RT"], NONE, ["agent-and-dose"], "warning")},
    # The act's own note says treatment day 2: a later day although no earlier day was read.
    "fibrinolysis-later-day-by-note.note-sign": {"Procedure/p1": (["32562-RT"], NONE, NONE, "info")},
    # Negative of 32550: a plan mentioning a tunneled catheter.
    "thoracentesis-plan-mentions-pleurx.encounter-discharge": {"Procedure/p1": (["32555-RT"], NONE, NONE, "info")},
    # 32550 and 32560 same side, same session: NCCI 32550/32560 indicator 1 -> 32560 not separately billable.
    "pleurodesis-with-tunneled-catheter.encounter-discharge": {
        "Procedure/p1": (["32550-RT", "75989-26"], NONE, NONE, "info"),
        "Procedure/p2": (NONE, ["32560"], NONE, "info")},
    # NCCI per date of service: another session of the same day, same performer: indicator 1 -> XE (here on
    # the same side), indicator 0 -> not separately billable (even on the other side); another performer:
    # the pair does not apply.
    "ncci-same-day-other-session-xe.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], NONE, NONE, "info"),
        "Procedure/p2": (["32551-RT-XE"], NONE, NONE, "info")},
    "ncci-same-day-other-session-indicator-0.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], NONE, NONE, "info"),
        "Procedure/p2": (NONE, ["32554"], NONE, "info")},
    "ncci-same-day-other-performer.encounter-discharge": {
        "Procedure/p1": (["32555-RT"], NONE, NONE, "info"),
        "Procedure/p2": (["32554-LT"], NONE, NONE, "info")},
}


def _check(found: dict, expected: dict) -> None:
    assert_expected_cards(found, expected)
    for ext in found.values():
        assert ext["rule"].startswith("pleural/")
        assert all(line["units"] == 1 for line in ext.get("lines", []))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(client, name):
    _check(suggestions(post(client, request(name))), SCENARIOS[name])


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_in_fetch_mode(client, fhir_server, name):
    """No prefetch: everything is read from the loopback FHIR server (the earlier encounter's instillation
    too, by the follow-up read of the patient's Procedures), and the coding is the same."""
    fhir_server.reset()
    call, resources = calls.fetch_mode(request(name), fhir_server.base_url)
    fhir_server.load(resources)
    found = suggestions(post(client, call))
    _check(found, SCENARIOS[name])
    for subject in found.values():
        assert "Data not read" not in subject["card"]["detail"], subject["card"]["detail"]


def test_guidance_line_is_explained_in_plain_words(client):
    card = suggestions(post(client, request("tunneled-catheter-us-guided.encounter-discharge")))["Procedure/p1"]
    detail = card["card"]["detail"]
    assert "75989 is billed as its own line with 32550" in detail.replace("\\", "")
    assert "ImagingStudy/img-1" in detail.replace("\\", "")
    assert card["card"]["summary"].startswith("Bill 32550-RT, 75989-26: tunneled pleural catheter")


def test_removal_card_names_its_ten_day_global_period(client):
    card = suggestions(post(client, request("tunneled-catheter-removal.encounter-discharge")))["Procedure/p1"]["card"]
    detail = card["detail"].replace("\\", "")
    assert "10-day global period" in detail and "through 2024-03-14" in detail and "Practitioner/dr-a" in detail
    # Negative: the insertion (global 000) says nothing of a global period.
    other = suggestions(post(client, request("tunneled-catheter-us-guided.encounter-discharge")))["Procedure/p1"]
    assert "global period" not in other["card"]["detail"]


def test_course_cards_explain_the_day_and_name_unchecked_history(client):
    found = suggestions(post(client, request("fibrinolysis-course.encounter-discharge")))
    assert "First day of the course" in found["Procedure/p1"]["card"]["detail"]
    later = found["Procedure/p2"]["card"]["detail"].replace("\\", "")
    assert "began on 2024-03-02 (Procedure/p1)" in later
    assert "one unit a day" in found["Procedure/p3"]["card"]["detail"]
    # No FHIR server in the call: the earlier encounters could not be read, and the card says so.
    assert "earlier encounters could not be checked" in found["Procedure/p1"]["card"]["detail"]
    # When the data already show an earlier day for every coded act, nothing more is read or named.
    prefetched = suggestions(post(client, request("fibrinolysis-earlier-encounter-prefetched.encounter-discharge")))
    assert "procedureHistory" not in prefetched["Procedure/p1"]["card"]["detail"]


def test_draining_an_existing_tunneled_catheter_is_not_coded(client):
    call = request("tunneled-catheter-unguided.encounter-discharge")
    procedure = call["prefetch"]["procedures"]["entry"][0]["resource"]
    procedure["code"] = {"text": "Drainage of indwelling pleural catheter"}
    procedure["note"] = [{"text": "Existing PleurX drained with a vacuum bottle, 700 mL."}]
    assert suggestions(post(client, call)) == {}


def test_only_the_guidance_order_not_billed_with_the_catheter_is_deleted(client):
    card = suggestions(post(client, request("tunneled-catheter-with-guidance-orders.order-sign")))
    actions = card["ServiceRequest/sr-1"]["card"]["suggestions"][0]["actions"]
    assert [a.get("resourceId") for a in actions if a["type"] == "delete"] == ["ServiceRequest/sr-77002"]
