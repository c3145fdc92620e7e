"""Rule packs: every pack loads; broken packs stop start-up naming the file and the field; the engine
holds no family knowledge (paracentesis runs on it with no Python of its own)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from cds_service.app import create_app
from cds_service.rules.packs import PackError, load_rule_book

ROOT = Path(__file__).resolve().parents[2]
CARDS = ROOT / "cards"
ENGINE_CODE = [ROOT / "cds_service" / "coding.py", *[
    p for folder in ("evidence", "rules", "rendering", "text") for p in (ROOT / "cds_service" / folder).glob("*.py")]]


def test_every_pack_and_payer_profile_loads():
    book = load_rule_book(CARDS)
    assert {p.id for p in book.packs} == {"pleural", "paracentesis", "arthrocentesis"}
    assert book.default_payer.id == "medicare"
    for pack in book.packs:
        assert pack.card_source.url.startswith("https://")
        assert pack.ncci_pairs and pack.mues and pack.documentation


def _copy_cards(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(CARDS, target)
    return target


def _edit(path: Path, change) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(
    ("file", "change", "field"),
    [
        ("pleural.yaml", lambda d: d["codes"][0].update(code="3255"), "codes[0].code"),
        ("pleural.yaml", lambda d: d["codes"][1].update(approach="tunnelled"), "codes[1].approach"),
        ("pleural.yaml", lambda d: d["ncci"]["pairs"][0].update(modifier_indicator=5),
         "ncci.pairs[0].modifier_indicator"),
        ("pleural.yaml", lambda d: d["guidance"].update(claimed_text=["(unclosed"]), "guidance.claimed_text[0]"),
        ("pleural.yaml", lambda d: d.pop("necessity"), "(top level)"),
        ("paracentesis.yaml", lambda d: d["documentation"].append(
            {"id": "laterality", "billing": True, "stages": ["order"], "checklist": "x",
             "satisfied_by": {"side": True}}), "documentation[5].satisfied_by.side"),
        ("paracentesis.yaml", lambda d: d.update(card_source="nowhere"), "card_source"),
        ("payers/medicare.yaml", lambda d: d.update(bilateral="both"), "bilateral"),
    ],
)
def test_broken_pack_names_file_and_field(tmp_path, file, change, field):
    folder = _copy_cards(tmp_path)
    _edit(folder / file, change)
    with pytest.raises(PackError) as raised:
        load_rule_book(folder)
    message = str(raised.value)
    assert file.split("/")[-1] in message and field in message


def test_broken_pack_stops_start_up(tmp_path, settings):
    folder = _copy_cards(tmp_path)
    (folder / "pleural.yaml").write_text("id: [unclosed\n")
    with pytest.raises(PackError, match="pleural.yaml"):
        create_app(settings.with_overrides(rule_packs_dir=folder))


def test_two_default_payers_are_refused(tmp_path):
    folder = _copy_cards(tmp_path)
    _edit(folder / "payers" / "example-rt-lt.yaml", lambda d: d.update(default=True))
    with pytest.raises(PackError, match="default"):
        load_rule_book(folder)


def test_engine_code_names_no_family_and_no_code():
    """Codes, SNOMED ids, families and modifiers live in packs and payer profiles, never in Python."""
    family_words = re.compile(r"thoracent|paracent|pleura|ascites|chest|abdom|arthrocent|knee|bursa|triamcinolone|"
                              r"lidocaine", re.IGNORECASE)
    codes = re.compile(r"\b(3255\d|4908\d|206\d\d|7\d{4}|\d{6,9}|J\d{4})\b|\"(RT|LT|50|76|77|XS|26|F\d|T\d|FA|TA)\"")
    for path in ENGINE_CODE:
        text = path.read_text()
        assert not family_words.search(text), f"{path.name} names a family"
        assert not codes.search(text), f"{path.name} holds a code: {codes.search(text).group(0)}"


def test_a_new_family_is_only_a_pack(tmp_path, client):
    """A made-up family (fake codes, fake SNOMED id) runs on the same engine with no Python change."""
    folder = _copy_cards(tmp_path)
    pack = yaml.safe_load((CARDS / "paracentesis.yaml").read_text())
    pack.update(id="demo", title="Demo family", not_performed={"code": "0002T", "reason_text": ["nothing found"]})
    pack["approaches"] = [{"id": "tap", "label": "demo tap", "recognise": {"snomed": ["1234567"]}}]
    pack.pop("icd10pcs")  # paracentesis's PCS codes belong to paracentesis
    pack["note_reading"].pop("device", None)  # it names paracentesis's approach
    pack["codes"] = [
        dict(pack["codes"][0], code="0000T", approach="tap", rule="demo-unguided"),
        dict(pack["codes"][1], code="0001T", approach="tap", rule="demo-guided"),
        dict(pack["codes"][2], code="0002T"),
    ]
    pack["ncci"]["pairs"] = [{"column1": "0001T", "column2": "0000T", "modifier_indicator": 0,
                              "effective": "2024-07-01"}]
    pack["ncci"]["mues"] = []
    (folder / "demo.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    book = load_rule_book(folder)
    assert "demo" in {p.id for p in book.packs}

    from cds_service.coding import CodingEngine
    from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
    from cds_service.services import SERVICES_BY_ID

    procedure = {"resourceType": "Procedure", "id": "d1", "status": "completed",
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1234567"}]},
                 "subject": {"reference": "Patient/x"}, "performedDateTime": "2024-01-01T10:00:00Z"}
    study = {"resourceType": "ImagingStudy", "id": "i1", "status": "available", "started": "2024-01-01T09:50:00Z",
             "modality": [{"code": "US"}], "numberOfInstances": 2, "subject": {"reference": "Patient/x"}}
    data = ClinicalData(results={
        "procedures": KeyResult("procedures", Outcome.PROVIDED, [procedure]),
        "imagingStudies": KeyResult("imagingStudies", Outcome.PROVIDED, [study]),
    })
    engine = CodingEngine(None, book)
    cards = engine.cards(SERVICES_BY_ID["procedure-coding-encounter-discharge"], {"context": {}}, data)
    ext = cards[0]["extension"]["cpt-coding.suggestion"]
    assert ext["rule"] == "demo/demo-guided" and ext["lines"] == [{"code": "0001T", "units": 1}]
