"""Family-neutral engine features of issue 13, each exercised by a made-up family (fake codes, fake SNOMED
ids) built from a pack alone: separately billable guidance lines, documentation checks tied to codes,
day-sequence codes, NCCI pairs per date of service."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from cds_service.coding import CodingEngine
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.rules.packs import load_rule_book
from cds_service.services import SERVICES_BY_ID

ROOT = Path(__file__).resolve().parents[2]
CARDS = ROOT / "cards"
SCT = "http://snomed.info/sct"
DISCHARGE = SERVICES_BY_ID["procedure-coding-encounter-discharge"]


def demo_pack() -> dict:
    """A sided demo family: a tap (0000T unguided / 0001T ultrasound-guided) whose fluoroscopic guidance is
    its own line 0003T, a course of daily rinses (0004T first day / 0005T later days)."""
    pack = yaml.safe_load((CARDS / "paracentesis.yaml").read_text())
    pack.update(id="demo", title="Demo family")
    pack.pop("not_performed")
    pack["approaches"] = [
        {"id": "rinse", "label": "demo rinse", "recognise": {"snomed": ["1234568"]}, "course": {"window_days": 14}},
        {"id": "tap", "label": "demo tap", "recognise": {"snomed": ["1234567"]}},
    ]
    base = pack["codes"][0]
    pack["codes"] = [
        dict(base, code="0000T", approach="tap", guided=False, rule="demo-unguided", bilateral_indicator=1),
        dict(base, code="0001T", approach="tap", guided=True, rule="demo-guided", bilateral_indicator=1),
        dict(base, code="0004T", approach="rinse", guided="any", rule="demo-first-day", course_day="first"),
        dict(base, code="0005T", approach="rinse", guided="any", rule="demo-later-day", course_day="later"),
    ]
    pack["guidance"]["modalities"] = ["US"]
    pack["separate_guidance"] = [{
        "code": "0003T", "with": ["0000T"], "modalities": ["RF"], "short": "demo fluoroscopic guidance",
        "meaning": "made-up guidance code", "plain": "made-up guidance code", "pc_tc_indicator": 1}]
    pack["laterality"] = {"applies": True, "right": {"snomed": ["24028007"]}, "left": {"snomed": ["7771000"]},
                          "bilateral": {"snomed": ["51440002"]}}
    pack["ncci"]["pairs"] = [
        {"column1": "0001T", "column2": "0000T", "modifier_indicator": 0, "effective": "2024-07-01"},
        {"column1": "0004T", "column2": "0000T", "modifier_indicator": 1, "effective": "2024-07-01"},
        {"column1": "0004T", "column2": "0005T", "modifier_indicator": 0, "effective": "2024-07-01"},
    ]
    pack["ncci"]["mues"] = [{"code": "0004T", "units": 1, "effective": "2024-07-01"}]
    pack["documentation"] = [
        {"id": "guidance-report", "billing": True, "stages": ["procedure"], "for_codes": ["0003T"],
         "checklist": "Describe the guidance", "satisfied_by": {"text": ["guidance described"]}},
        {"id": "agent-and-dose", "billing": True, "stages": ["procedure"], "for_codes": ["0004T", "0005T"],
         "checklist": "Record the agent and dose", "satisfied_by": {"text": [r"\d+ mg"]}},
    ]
    return pack


def engine_with(tmp_path: Path, pack: dict) -> CodingEngine:
    folder = tmp_path / "cards"
    shutil.copytree(CARDS, folder)
    (folder / "demo.yaml").write_text(yaml.safe_dump(pack, sort_keys=False))
    return CodingEngine(None, load_rule_book(folder))


def act(pid: str, snomed: str = "1234567", when: str = "2024-01-01T10:00:00Z", side: str = "24028007",
        encounter: str = "Encounter/e1", performer: str = "Practitioner/a", note: str | None = None) -> dict:
    resource = {"resourceType": "Procedure", "id": pid, "status": "completed",
                "code": {"coding": [{"system": SCT, "code": snomed}]}, "subject": {"reference": "Patient/x"},
                "encounter": {"reference": encounter}, "performedDateTime": when,
                "bodySite": [{"coding": [{"system": SCT, "code": side}]}],
                "performer": [{"actor": {"reference": performer}}]}
    if note:
        resource["note"] = [{"text": note}]
    return resource


def study(sid: str, modality: str, when: str = "2024-01-01T09:58:00Z", procedure: str | None = None) -> dict:
    resource = {"resourceType": "ImagingStudy", "id": sid, "status": "available", "started": when,
                "modality": [{"code": modality}], "numberOfInstances": 2, "subject": {"reference": "Patient/x"},
                "encounter": {"reference": "Encounter/e1"}}
    if procedure:
        resource["procedureReference"] = {"reference": f"Procedure/{procedure}"}
    return resource


def code(engine: CodingEngine, procedures: list[dict], studies: list[dict] = (), encounter_class: str = "IMP",
         history: list[dict] = ()) -> dict[str, dict]:
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": encounter_class}}
    results = {
        "encounter": KeyResult("encounter", Outcome.PROVIDED, [encounter]),
        "procedures": KeyResult("procedures", Outcome.PROVIDED, list(procedures)),
        "imagingStudies": KeyResult("imagingStudies", Outcome.PROVIDED, list(studies)),
    }
    if history:
        results["procedureHistory"] = KeyResult("procedureHistory", Outcome.FETCHED, list(history))
    cards = engine.cards(DISCHARGE, {"context": {"encounterId": "e1"}}, ClinicalData(results=results))
    found = {}
    for card in cards:
        ext = card["extension"]["cpt-coding.suggestion"]
        found[ext["subject"]] = {
            "lines": ["-".join([line["code"], *line.get("modifiers", [])]) for line in ext.get("lines", [])],
            "gaps": ext.get("documentationGaps", []), "bundled": ext.get("notSeparatelyBillable", []),
            "detail": card["detail"]}
    return found


def test_separate_guidance_line_with_its_primary(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    # Fluoroscopy (not a modality of the with-imaging code): the unguided code plus the guidance line, 26 in a
    # facility encounter, no side modifier; its own documentation check applies.
    found = code(engine, [act("d1")], [study("i1", "RF", procedure="d1")])
    assert found["Procedure/d1"]["lines"] == ["0000T-RT", "0003T-26"]
    assert found["Procedure/d1"]["gaps"] == ["guidance-report"]
    # Ambulatory: no 26; the report describes the guidance: no gap.
    found = code(engine, [act("d1", note="guidance described")], [study("i1", "RF", procedure="d1")], "AMB")
    assert found["Procedure/d1"]["lines"] == ["0000T-RT", "0003T"] and found["Procedure/d1"]["gaps"] == []


def test_no_separate_guidance_line_without_its_modality_or_its_primary(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    # Ultrasound selects the with-imaging code, which the guidance line does not go with.
    assert code(engine, [act("d1")], [study("i1", "US", procedure="d1")])["Procedure/d1"]["lines"] == ["0001T-RT"]
    # No study at all: no guidance line, and the code-bound check does not apply.
    found = code(engine, [act("d1")])["Procedure/d1"]
    assert found["lines"] == ["0000T-RT"] and found["gaps"] == []


def test_guidance_line_goes_with_its_denied_primary(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    # 0001T (ultrasound, other side) and 0000T under fluoroscopy in one session: indicator 0 denies 0000T, and
    # its guidance line goes with it.
    found = code(engine, [act("d1"), act("d2", side="7771000", when="2024-01-01T10:20:00Z")],
                 [study("i1", "RF", procedure="d1"), study("i2", "US", when="2024-01-01T10:19:00Z", procedure="d2")])
    assert found["Procedure/d1"]["lines"] == [] and found["Procedure/d1"]["bundled"] == ["0000T"]
    assert found["Procedure/d2"]["lines"] == ["0001T-LT"]
