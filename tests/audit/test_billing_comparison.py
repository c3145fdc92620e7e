"""The audit's statuses, one encounter per case, from fixture encounters and the claims billed for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_service.batch.progress import Progress
from cds_service.batch.runner import AuditOptions, run_audit
from cds_service.config import Settings

from .exports import HCPCS, claim, fixture_resources, write_ndjson

BILATERAL = "thoracentesis-bilateral.encounter-discharge.json"  # 32555-50 on p-right, 76942 bundled
UNDOCUMENTED = "thoracentesis-undocumented.encounter-discharge.json"  # 32554, billing gaps (indication, ...)
US_GUIDED = "thoracentesis-guidance-based-on.encounter-discharge.json"  # 32555-RT, no billing gap
KNEE_DRUG = "joint-knee-triamcinolone.encounter-discharge.json"  # 20610-RT and J3301 x4
FEES = Path(__file__).parent / "fee-schedule.csv"


def _cases() -> dict[str, list[dict]]:
    right = {"code": "32555", "modifiers": ["50"], "procedure": "p-right"}
    return {
        # billed as suggested, tied through procedureSequence, modifier from the HCPCS system
        "-match": [claim("c", "-match", [{**right, "modifier_system": HCPCS}], ["p-right", "p-left"])],
        "-nomod": [claim("c", "-nomod", [{"code": "32555", "procedure": "p-right"}], ["p-right"])],
        "-wrong": [claim("c", "-wrong", [{"code": "32554", "modifiers": ["50"], "system": HCPCS}])],
        "-extra": [claim("c", "-extra", [right, {"code": "76942"}], ["p-right"])],
        # an EOB whose Claim is in the export is not read twice; no line at all for the procedure: not billed
        "-none": [claim("c", "-none", [{"code": "99213"}]),
                  claim("e", "-none", [{**right}], ["p-right"], rtype="ExplanationOfBenefit",
                        claim={"reference": "Claim/c-none"})],
        # the second side's line tied to p-left: the bilateral line sits on p-right's card
        "-left": [claim("c", "-left", [{**right, "procedure": "p-left"}], ["p-right", "p-left"])],
        # the same claim twice in the export: read once
        "-twice": [claim("c", "-twice", [{**right}], ["p-right"])] * 2,
        # an EOB alone counts
        "-eob": [claim("e", "-eob", [{**right}], ["p-right"], rtype="ExplanationOfBenefit")],
        # no item names the encounter: the claim's day of service does
        "-day": [claim("c", "-day", [{"code": "32555", "modifiers": ["50"]}],
                       billablePeriod={"start": "2024-03-04T09:00:00-05:00"})],
    }


@pytest.fixture(scope="module")
def audited(tmp_path_factory) -> dict[tuple[str, str], dict]:
    folder = tmp_path_factory.mktemp("billing")
    resources = []
    for tag, claims in _cases().items():
        resources += fixture_resources(BILATERAL, tag) + claims
    resources += fixture_resources(UNDOCUMENTED, "-gap") + [claim("c", "-gap", [{"code": "32554"}])]
    resources += fixture_resources(US_GUIDED, "-ok") + [claim("c", "-ok", [{"code": "32555", "modifiers": ["RT"]}])]
    # no claim: the CPT coding on the Procedure is what was billed
    procedure_coded = fixture_resources(US_GUIDED, "-pc")
    for resource in procedure_coded:
        if resource["resourceType"] == "Procedure":
            resource["code"]["coding"].append({"system": "http://www.ama-assn.org/go/cpt", "code": "32554"})
    resources += procedure_coded
    # references as urn:uuid (Synthea's style), the patient's resources named by their ids
    urn = fixture_resources(BILATERAL, "-urn") + [claim("c", "-urn", [{"code": "32555", "modifiers": ["50"]}])]
    resources += [json.loads(json.dumps(r).replace('"Patient/pt-1-urn"', '"urn:uuid:pt-1-urn"')
                             .replace('"Encounter/enc-1-urn"', '"urn:uuid:enc-1-urn"')) for r in urn]
    # drug supply lines: units compared
    for tag, units in (("-drug", 4), ("-drugless", 0), ("-drugmore", 6)):
        items = [{"code": "20610", "modifiers": ["RT"]}] + ([{"code": "J3301", "units": units}] if units else [])
        resources += fixture_resources(KNEE_DRUG, tag) + [claim("c", tag, items)]
    write_ndjson(folder / "in", resources)
    options = AuditOptions([folder / "in"], folder / "out", Settings().rule_packs_dir, workers=1,
                           fee_schedule=FEES)
    run_audit(options, Progress(tty=False, stream=open("/dev/null", "w")))  # noqa: SIM115
    records = [json.loads(line) for line in (folder / "out" / "findings.ndjson").read_text().splitlines()]
    return {(r["patient"].split("/")[1], r["subject"].split("/")[1]): r for r in records}


@pytest.mark.parametrize(("tag", "status"), [
    ("-match", "match"), ("-nomod", "missing-modifier"), ("-wrong", "wrong-code"), ("-extra", "extra-line"),
    ("-none", "not-billed"), ("-left", "match"), ("-eob", "match"), ("-day", "match"), ("-urn", "match"),
    ("-twice", "match"),
])
def test_bilateral_claims(audited, tag, status):
    record = audited[(f"pt-1{tag}", f"p-right{tag}")]
    assert record["suggested"] == [{"code": "32555", "modifiers": ["50"], "units": 1}]
    assert record["status"] == status, record
    assert audited[(f"pt-1{tag}", f"p-left{tag}")]["status"] == "match"  # no line of its own, none billed


def test_tied_lines_and_sources(audited):
    match = audited[("pt-1-match", "p-right-match")]
    assert match["billed"] == [{"code": "32555", "modifiers": ["50"], "units": 1, "source": "Claim/c-match item 1"}]
    assert match["billedFrom"] == "claim" and match["value"] == 0.0
    assert audited[("pt-1-none", "p-right-none")]["billed"] == []  # the EOB of Claim/c-none is not read
    assert audited[("pt-1-eob", "p-right-eob")]["billed"][0]["source"] == "ExplanationOfBenefit/e-eob item 1"
    extra = audited[("pt-1-extra", "p-right-extra")]
    assert {b["code"] for b in extra["billed"]} == {"32555", "76942"}
    assert extra["notSeparatelyBillable"] == ["76942"]


def test_documentation_gap_only_for_billing_gaps(audited):
    gap = audited[("pt-1-gap", "p1-gap")]
    assert gap["status"] == "documentation-gap"
    assert "indication" in gap["billingGaps"] and set(gap["billingGaps"]) <= set(gap["gaps"])
    ok = audited[("pt-1-ok", "p1-ok")]
    assert ok["suggested"] == [{"code": "32555", "modifiers": ["RT"], "units": 1}]
    assert ok["status"] == "match" and ok["billingGaps"] == []


def test_procedure_coding_when_no_claim(audited):
    record = audited[("pt-1-pc", "p1-pc")]
    assert record["billedFrom"] == "procedure"
    assert record["billed"] == [{"code": "32554", "units": 1, "source": "Procedure/p1-pc"}]
    assert record["status"] == "wrong-code"


def test_money_at_stake(audited):
    # facility encounter (IMP): 32555 at 150.00, x1.5 with modifier 50 = 225.00
    assert audited[("pt-1-match", "p-right-match")]["expectedAmount"] == 225.0
    assert audited[("pt-1-none", "p-right-none")]["value"] == 225.0  # not billed: all of it
    wrong = audited[("pt-1-wrong", "p-right-wrong")]
    assert wrong["billedAmount"] == 150.0 and wrong["value"] == 75.0
    assert audited[("pt-1-nomod", "p-right-nomod")]["value"] == 150.0  # the billed line risks denial


@pytest.mark.parametrize(("tag", "status"), [
    ("-drug", "match"), ("-drugless", "not-billed"), ("-drugmore", "extra-line"),
])
def test_drug_supply_units(audited, tag, status):
    record = next(r for (patient, _), r in audited.items() if patient == f"pt-1{tag}")
    assert {"code": "J3301", "units": 4} in record["suggested"]
    assert record["status"] == status, record
