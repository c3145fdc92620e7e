"""Joints in fetch mode: no prefetch at all, the service reads the encounter (MedicationAdministration
included) from the loopback FHIR server and codes exactly as in prefetch mode (tests/coding)."""

from __future__ import annotations

import pytest

from tests import calls
from tests.coding.helpers import post, request, suggestions
from tests.coding.test_joint_scenarios import SCENARIOS, _labels

pytestmark = pytest.mark.integration

# Sites from codes and text, digits, drugs from a note and from a fetched MedicationAdministration, separate
# guidance lines, a missing report, both knees across two Procedures.
FETCHED = [
    "joint-knee-triamcinolone.encounter-discharge",
    "joint-methylprednisolone-administration.encounter-discharge",
    "joint-fingers-and-toe.encounter-discharge",
    "joint-fluoroscopic-guidance.encounter-discharge",
    "joint-us-no-report.encounter-discharge",
    "joint-both-knees.encounter-discharge",
    "joint-knee-us-guided.note-sign",
    "joint-shared-note-each-knee.note-sign",
]


@pytest.mark.parametrize("name", FETCHED)
def test_fetch_mode_codes_as_prefetch_mode(client, fhir_server, name):
    fhir_server.reset()
    call, resources = calls.fetch_mode(request(name), fhir_server.base_url)
    fhir_server.load(resources)
    found = suggestions(post(client, call))
    assert set(found) == set(SCENARIOS[name])
    for subject, (lines, bundled, gaps, indicator) in SCENARIOS[name].items():
        ext = found[subject]
        assert _labels(ext) == lines, subject
        assert ext.get("notSeparatelyBillable", []) == bundled, subject
        assert ext.get("documentationGaps", []) == gaps, subject
        assert ext["card"]["indicator"] == indicator, subject
        assert "Data not read" not in ext["card"]["detail"], ext["card"]["detail"]


def test_the_administration_read_from_the_server_makes_the_drug_line(client, fhir_server):
    """Negative control: without the MedicationAdministration on the server there is no drug line."""
    fhir_server.reset()
    call, resources = calls.fetch_mode(
        request("joint-methylprednisolone-administration.encounter-discharge"), fhir_server.base_url)
    fhir_server.load([r for r in resources if r["resourceType"] != "MedicationAdministration"])
    found = suggestions(post(client, call))["Procedure/p1"]
    assert _labels(found) == ["20610-RT"]
