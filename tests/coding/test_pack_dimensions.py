"""Engine features of issue 13 on a made-up family (fake codes, fake sites, fake drug): a site dimension that
selects the code, per-site lines with distinct-site modifiers, anatomic digit modifiers, and drug lines
with units from the dose. No Python knows the family; the pack alone drives it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.coding import CodingEngine
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.rules.drugs import fewest_units
from cds_service.rules.packs import DrugCode, PackError, load_rule_book
from cds_service.services import SERVICES_BY_ID

CARDS = Path(__file__).resolve().parents[2] / "cards"
DISCHARGE = SERVICES_BY_ID["procedure-coding-encounter-discharge"]

DEMO = {
    "id": "demo-sites", "title": "Demo site family", "card_source": "demo",
    "sources": [{"id": "demo", "label": "Demo source", "url": "https://example.org/demo", "supports": "all"}],
    "approaches": [{"id": "poke", "label": "demo poke", "recognise": {"text": ["\\bdemo poke\\b"]}}],
    "codes": [
        {"code": "0200T", "role": "procedure", "approach": "poke", "guided": "any", "site_class": "tiny",
         "rule": "tiny", "short": "tiny site", "meaning": "a poke at a tiny site", "plain": "tiny",
         "bilateral_indicator": 1, "pc_tc_indicator": 0},
        {"code": "0201T", "role": "procedure", "approach": "poke", "guided": "any", "site_class": "huge",
         "rule": "huge", "short": "huge site", "meaning": "a poke at a huge site", "plain": "huge",
         "bilateral_indicator": 1, "pc_tc_indicator": 0},
    ],
    "guidance": {"modalities": ["US"], "window_minutes_before": 10, "bundled_codes": [], "order_codes": [],
                 "claimed_text": ["\\bnever claimed\\b"]},
    "laterality": {"applies": True, "right": {"text": ["\\bright\\b"]}, "left": {"text": ["\\bleft\\b"]},
                   "bilateral": {"text": ["\\bboth\\b"]}},
    "sites": {"phrase_boundary": "[;,]|\\band\\b", "items": [
        {"id": "nub", "label": "nub", "class": "tiny", "digits": "nubs", "recognise": {"text": ["\\bnub\\b"]}},
        {"id": "dome", "label": "dome", "class": "huge", "recognise": {"snomed": ["999000001"],
                                                                       "text": ["\\bdome\\b"]}},
        {"id": "arch", "label": "arch", "class": "huge", "recognise": {"text": ["\\barch\\b"]}},
    ]},
    "digits": [
        {"group": "nubs", "label": "first nub", "right": "Q1", "left": "Q2", "recognise": {"text": ["\\bfirst\\b"]}},
        {"group": "nubs", "label": "second nub", "right": "Q3", "left": "Q4", "recognise": {"text": ["\\bsecond\\b"]}},
    ],
    "drugs": {"source": "demo", "dose_text": ["(?P<value>\\d+)\\s*(?P<unit>mg)\\s+(?:{drug})"],
              "injection_text": ["\\binjected\\b"],
              "items": [{"id": "zap", "label": "zapamine", "names": ["\\bzapamine\\b"], "codes": [
                  {"code": "Z9002", "mg_per_unit": 25, "meaning": "zapamine 25 mg"},
                  {"code": "Z9001", "mg_per_unit": 10, "meaning": "zapamine 10 mg"}]}],
              "not_billed": [{"label": "numbing", "names": ["\\bnumbcaine\\b"], "why": "part of the poke"}]},
    "necessity": {"source": "demo", "icd10cm": ["Z99"]},
    "ncci": {"ptp_source": "demo", "mue_source": "demo", "pairs": [], "mues": [{"code": "0201T", "units": 2,
                                                                               "effective": "2024-07-01"}]},
    "documentation": [
        {"id": "which-site", "billing": True, "stages": ["procedure"], "checklist": "Say where",
         "satisfied_by": {"site": True}},
        {"id": "dose", "billing": True, "stages": ["procedure"], "checklist": "Say how much",
         "satisfied_by": {"drug_dose": True}},
    ],
    "override_reasons": {"system": "https://example.org/override", "reasons": [{"code": "x", "display": "X"}]},
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> CodingEngine:
    folder = tmp_path_factory.mktemp("cards")
    shutil.copytree(CARDS / "payers", folder / "payers")
    (folder / "demo.yaml").write_text(yaml.safe_dump(DEMO, sort_keys=False))
    return CodingEngine(None, load_rule_book(folder))


def _code(sites: list[dict], note: str = "", pid: str = "d1", start: str = "10:00") -> dict:
    resource = {"resourceType": "Procedure", "id": pid, "status": "completed", "code": {"text": "demo poke"},
                "subject": {"reference": "Patient/x"}, "performedDateTime": f"2024-01-01T{start}:00Z",
                "bodySite": sites}
    if note:
        resource["note"] = [{"text": note}]
    return resource


def _lines(engine: CodingEngine, *procedures: dict) -> dict[str, list[str]]:
    data = ClinicalData(results={"procedures": KeyResult("procedures", Outcome.PROVIDED, list(procedures))})
    found = {}
    for card in engine.cards(DISCHARGE, {"context": {}}, data):
        ext = card["extension"]["cpt-coding.suggestion"]
        found[ext["subject"]] = [
            "-".join([line["code"], *line.get("modifiers", [])]) + (f" x{line['units']}" if line["units"] > 1 else "")
            for line in ext.get("lines", [])
        ] + [f"gap:{g}" for g in ext.get("documentationGaps", [])]
    return found


def test_site_class_selects_the_code_and_each_site_is_a_line(engine):
    found = _lines(engine, _code([{"text": "right dome"}, {"text": "right arch"}, {"text": "left nub"}]))
    # Two huge sites: 0201T twice, XS on the later one; the tiny site is another code (no XS).
    assert found["Procedure/d1"] == ["0201T-RT", "0201T-RT-XS", "0200T-LT"]


def test_same_site_both_sides_is_one_bilateral_line_and_a_site_code_works(engine):
    found = _lines(engine, _code([{"coding": [{"system": "http://snomed.info/sct", "code": "999000001"}],
                                   "text": "both"}]))
    assert found["Procedure/d1"] == ["0201T-50"]


def test_digit_modifiers_replace_the_side_and_need_no_xs(engine):
    found = _lines(engine, _code([{"text": "right first nub"}, {"text": "right second nub"}, {"text": "left nub"}]))
    assert found["Procedure/d1"] == ["0200T-Q1", "0200T-Q3", "0200T-LT-XS"]


def test_bilateral_site_across_subjects_keeps_its_place_and_other_sites_get_xs(engine):
    found = _lines(engine, _code([{"text": "right dome"}, {"text": "left arch"}]),
                   _code([{"text": "left dome"}], pid="d2", start="10:05"))
    assert found["Procedure/d1"] == ["0201T-50", "0201T-LT-XS"]
    assert found["Procedure/d2"] == []


def test_drug_line_units_from_the_dose(engine):
    found = _lines(engine, _code([{"text": "right dome"}], note="injected 35 mg zapamine and numbcaine"))
    assert found["Procedure/d1"] == ["0201T-RT", "Z9002", "Z9001"]  # 25 + 10: two units, nothing wasted
    found = _lines(engine, _code([{"text": "right dome"}], note="injected 50 mg zapamine"))
    assert found["Procedure/d1"] == ["0201T-RT", "Z9002 x2"]


def test_dose_and_site_gaps(engine):
    found = _lines(engine, _code([{"text": "right dome"}], note="zapamine injected"))
    assert found["Procedure/d1"] == ["0201T-RT", "gap:dose"]
    found = _lines(engine, _code([], note="numbcaine only"))
    assert found["Procedure/d1"] == ["gap:which-site"]


@pytest.mark.parametrize(("mg", "expected"), [
    (80, [("J1040", 1)]), (40, [("J1030", 1)]), (60, [("J1040", 1)]), (120, [("J1040", 1), ("J1030", 1)]),
    (20, [("J1030", 1)]), (160, [("J1040", 2)]), (0, []),
])
def test_fewest_units_rounds_partial_units_up(mg, expected):
    codes = (DrugCode("J1040", 80, "80 mg"), DrugCode("J1030", 40, "40 mg"))
    assert fewest_units(codes, mg) == expected


def test_single_code_units(mg=45):
    assert fewest_units((DrugCode("J3301", 10, "per 10 mg"),), mg) == [("J3301", 5)]


def test_dose_pattern_without_groups_is_refused(tmp_path):
    shutil.copytree(CARDS / "payers", tmp_path / "payers")
    broken = {**DEMO, "drugs": {**DEMO["drugs"], "dose_text": ["{drug} (\\d+) mg"]}}
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(broken, sort_keys=False))
    with pytest.raises(PackError, match=r"drugs\.dose_text\[0\]"):
        load_rule_book(tmp_path)


def test_site_class_without_a_code_is_refused(tmp_path):
    shutil.copytree(CARDS / "payers", tmp_path / "payers")
    items = [*DEMO["sites"]["items"], {"id": "odd", "label": "odd", "class": "medium", "recognise": {"text": ["x"]}}]
    broken = {**DEMO, "sites": {**DEMO["sites"], "items": items}}
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(broken, sort_keys=False))
    with pytest.raises(PackError, match=r"sites\.items\[3\]\.class"):
        load_rule_book(tmp_path)
