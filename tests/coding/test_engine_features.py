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
    pack.pop("icd10pcs", None)  # paracentesis's ICD-10-PCS codes stay paracentesis's
    pack["note_reading"].pop("device", None)  # it names paracentesis's approach
    pack["approaches"] = [
        {"id": "rinse", "label": "demo rinse", "recognise": {"snomed": ["1234568"]},
         "course": {"window_days": 14, "later_day_text": [r"rinse day [2-9]"]}},
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


def rinse(pid: str, when: str, encounter: str = "Encounter/e1", note: str = "rinse 5 mg") -> dict:
    return act(pid, snomed="1234568", when=when, encounter=encounter, note=note)


def test_day_sequence_codes(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    found = code(engine, [rinse("r1", "2024-01-01T10:00:00Z"), rinse("r2", "2024-01-03T10:00:00Z"),
                          rinse("r3", "2024-01-03T20:00:00Z", note="no dose")])
    assert found["Procedure/r1"]["lines"] == ["0004T-RT"]
    assert found["Procedure/r2"]["lines"] == ["0005T-RT"]
    # The day's second act is in the day's unit (no 76, no MUE warning), and has nothing to document.
    assert found["Procedure/r3"]["lines"] == [] and found["Procedure/r3"]["bundled"] == ["0005T"]
    assert found["Procedure/r3"]["gaps"] == []


def test_day_sequence_reads_the_fetched_history(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    today = [rinse("r2", "2024-01-10T10:00:00Z")]
    earlier = rinse("r1", "2024-01-01T10:00:00Z", encounter="Encounter/e0")
    assert code(engine, today)["Procedure/r2"]["lines"] == ["0004T-RT"]
    assert code(engine, today, history=[earlier])["Procedure/r2"]["lines"] == ["0005T-RT"]
    # Beyond the window (14 days) in another encounter: a new course.
    old = rinse("r0", "2023-12-20T10:00:00Z", encounter="Encounter/e0")
    assert code(engine, today, history=[old])["Procedure/r2"]["lines"] == ["0004T-RT"]
    # In the same encounter, an earlier day counts whatever the window; a not-done act never does.
    same = rinse("r0", "2023-12-20T10:00:00Z")
    assert code(engine, [*today, same])["Procedure/r2"]["lines"] == ["0005T-RT"]
    cancelled = dict(earlier, status="not-done")
    assert code(engine, today, history=[cancelled])["Procedure/r2"]["lines"] == ["0004T-RT"]
    # The act's own words say a later day: the later-day code although no earlier day was read.
    said = rinse("r2", "2024-01-10T10:00:00Z", note="rinse day 3, 5 mg")
    found = code(engine, [said])["Procedure/r2"]
    assert found["lines"] == ["0005T-RT"] and "rinse day 3" in found["detail"]


def test_history_is_asked_for_only_when_a_coded_act_may_be_a_later_day(tmp_path):
    engine = engine_with(tmp_path, demo_pack())

    def query(procedures: list[dict], context: dict | None = None) -> str | None:
        data = ClinicalData(results={"procedures": KeyResult("procedures", Outcome.PROVIDED, procedures)})
        return engine.history_query({"context": context or {"patientId": "x", "encounterId": "e1"}}, data)

    first = rinse("r1", "2024-01-10T10:00:00Z")
    assert query([first]) == "Procedure?patient=x&date=ge2023-12-27"
    # An earlier day is already read for every coded act: nothing to ask.
    assert query([first, rinse("r0", "2024-01-08T10:00:00Z", encounter="Encounter/e0")]) is None
    # No course act, or a patient-scoped read (no encounterId): nothing to ask.
    assert query([act("d1")]) is None
    assert query([first], {"patientId": "x"}) is None
    # Note-sign: only the note's acts are coded; an earlier day of the course among the data is enough.
    note = {"resourceType": "DocumentReference", "context": {"related": [{"reference": "Procedure/r2"}]}}
    later = rinse("r2", "2024-01-11T10:00:00Z")
    assert query([first, later], {"patientId": "x", "encounterId": "e1", "note": note}) is None


def test_ncci_pairs_per_date_of_service(tmp_path):
    engine = engine_with(tmp_path, demo_pack())
    morning, evening = "2024-01-01T08:00:00Z", "2024-01-01T18:00:00Z"
    # Indicator 1 (0004T/0000T) in another session of the same day, same performer: XE.
    found = code(engine, [rinse("r1", morning), act("d1", when=evening)])
    assert found["Procedure/d1"]["lines"] == ["0000T-RT-XE"]
    # Indicator 0 (0001T/0000T): not separately billable, even on the other side.
    found = code(engine, [act("d1", when=morning, side="7771000"), act("d2", when=evening)],
                 [study("i1", "US", when="2024-01-01T07:59:00Z", procedure="d1")])
    assert found["Procedure/d1"]["lines"] == ["0001T-LT"] and found["Procedure/d2"]["bundled"] == ["0000T"]
    # Another performer, or another day: the pair does not apply.
    found = code(engine, [rinse("r1", morning), act("d1", when=evening, performer="Practitioner/b")])
    assert found["Procedure/d1"]["lines"] == ["0000T-RT"]
    found = code(engine, [rinse("r1", morning), act("d1", when="2024-01-02T08:00:00Z")])
    assert found["Procedure/d1"]["lines"] == ["0000T-RT"]


def test_guidance_line_of_a_bilateral_procedure(tmp_path):
    pack = demo_pack()
    pack["separate_guidance"][0]["per_session"] = True
    engine = engine_with(tmp_path, pack)
    # Both sides in one session under fluoroscopy: one 50 line and one guidance unit for the session, the
    # procedure line first (it is the code written on the resource).
    found = code(engine, [act("d1"), act("d2", side="7771000", when="2024-01-01T10:20:00Z")],
                 [study("i1", "RF", procedure="d1"), study("i2", "RF", when="2024-01-01T10:19:00Z", procedure="d2")])
    assert found["Procedure/d1"]["lines"] == ["0000T-50", "0003T-26"]
    assert found["Procedure/d2"]["lines"] == []
    # Without per_session each procedure's guidance is its own unit.
    engine = engine_with(tmp_path / "other", demo_pack())
    found = code(engine, [act("d1"), act("d2", side="7771000", when="2024-01-01T10:20:00Z")],
                 [study("i1", "RF", procedure="d1"), study("i2", "RF", when="2024-01-01T10:19:00Z", procedure="d2")])
    assert found["Procedure/d1"]["lines"] == ["0000T-50", "0003T-26"]
    assert found["Procedure/d2"]["lines"] == ["0003T-26"]
