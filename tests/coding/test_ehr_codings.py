"""Reading EHR codings: ICD-10-PCS characters as pack data, SNOMED CT necessity lists, Encounter.class as EHRs
send it. The fixtures of test_ehr_fixtures.py run the same through the HTTP endpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.evidence.facts import encounter_class_code
from cds_service.rules.packs import PackError, load_rule_book

CARDS = Path(__file__).resolve().parents[2] / "cards"
BOOK = load_rule_book(CARDS)
PACKS = {pack.id: pack for pack in BOOK.packs}


@pytest.mark.parametrize("code, pack, approach, side", [
    ("0W993ZZ", "pleural", "aspiration", "right"),
    ("0W993ZX", "pleural", "aspiration", "right"),  # diagnostic qualifier: still the procedure
    ("0W9B3ZZ", "pleural", "aspiration", "left"),
    ("0W9930Z", "pleural", "indwelling", "right"),  # drainage device left in
    ("0W9B30Z", "pleural", "indwelling", "left"),
    ("0w9.b3zx", "pleural", "aspiration", "left"),  # written in lower case with a dot
    ("0W9G3ZZ", "paracentesis", "aspiration", None),
    ("0W9G3ZX", "paracentesis", "aspiration", None),
])
def test_pcs_codes_of_the_families(code, pack, approach, side):
    readings = {p.id: p.pcs_reading(code) for p in BOOK.packs}
    assert [p for p, reading in readings.items() if reading] == [pack], "one family per code"
    reading = readings[pack]
    assert (reading.approach.id, reading.side) == (approach, side)


@pytest.mark.parametrize("code", [
    "0W9G30Z",  # peritoneal drainage catheter left in: not a paracentesis
    "0W9900Z",  # open approach: another procedure
    "0W9940Z",  # percutaneous endoscopic (thoracoscopy)
    "0W9D30Z",  # pericardial cavity
    "0W993Z",  # six characters
    "0W993ZZZ",
    "0WB93ZX",  # excision, not drainage
])
def test_pcs_codes_that_are_not_ours(code):
    assert all(pack.pcs_reading(code) is None for pack in BOOK.packs)


def test_packs_list_snomed_necessity_concepts_with_a_source():
    assert PACKS["pleural"].necessity_snomed >= {"60046008", "36118008"}
    assert PACKS["paracentesis"].necessity_snomed == {"389026000"}
    for pack in (PACKS["pleural"], PACKS["paracentesis"]):
        assert pack.necessity_snomed_source is not None and pack.necessity_snomed_source.url.startswith("https://")
        assert pack.pcs_source is not None and pack.guidance_study_source is not None


def _with(tmp_path: Path, change) -> Path:
    folder = tmp_path / "cards"
    shutil.copytree(CARDS, folder)
    path = folder / "pleural.yaml"
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return folder


def test_a_pcs_device_must_name_an_approach(tmp_path):
    folder = _with(tmp_path, lambda d: d["icd10pcs"]["tables"][0]["devices"].update({"0": "drain"}))
    with pytest.raises(PackError, match=r"pleural.yaml: field 'icd10pcs.tables\[0\].devices.0': unknown approach"):
        load_rule_book(folder)


def test_two_packs_cannot_claim_the_same_pcs_code(tmp_path):
    folder = _with(tmp_path, lambda d: d["icd10pcs"]["tables"][0]["body_parts"].update({"G": "none"}))
    with pytest.raises(PackError, match=r"field 'icd10pcs': 0W9G3Z\.\. is also claimed by"):
        load_rule_book(folder)


def test_a_pcs_character_is_checked_by_the_schema(tmp_path):
    folder = _with(tmp_path, lambda d: d["icd10pcs"]["tables"][0]["approaches"].append("I"))  # no I or O in PCS
    with pytest.raises(PackError, match=r"field 'icd10pcs.tables\[0\].approaches\[1\]'"):
        load_rule_book(folder)


def test_a_snomed_concept_needs_its_display(tmp_path):
    folder = _with(tmp_path, lambda d: d["necessity"]["snomed"]["concepts"].append({"code": "60046008"}))
    with pytest.raises(PackError, match=r"field 'necessity.snomed.concepts\[3\]'"):
        load_rule_book(folder)


@pytest.mark.parametrize("cls, expected", [
    ({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}, "IMP"),
    ({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OBSENC"}, "OBSENC"),
    ({"system": "urn:oid:1.2.840.114350.1.13.0.1.7.10.696784.13260", "code": "EMER"}, "EMER"),
    ({"system": "urn:oid:1.2.840.114350.1.13.0.1.7.10.696784.13260", "code": "5", "display": "Outpatient"}, "AMB"),
    ({"code": "inpatient"}, "IMP"),  # early Synthea R4 exports: a word and no system
    ({"code": "emergency"}, "EMER"),
    ({"code": "acute"}, "ACUTE"),
    ({"system": "https://example.org/classes", "code": "ss"}, "SS"),
    ({"code": "7", "display": "Short Stay"}, "SS"),
    ({"code": "9"}, "9"),  # unknown codes stay as they are: never a facility class
])
def test_encounter_class_by_code_or_word(cls, expected):
    assert encounter_class_code({"resourceType": "Encounter", "class": cls}) == expected
    assert (expected in BOOK.default_payer.facility_encounter_classes) == (expected in {
        "IMP", "EMER", "ACUTE", "OBSENC", "SS"})


def test_an_encounter_without_class_has_none():
    assert encounter_class_code({"resourceType": "Encounter"}) is None
    assert encounter_class_code({"resourceType": "Encounter", "class": {"display": "Inpatient"}}) is None
