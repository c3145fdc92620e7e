"""The labelled note corpus keeps the format of /work/coord/CORPUS.md: one YAML file per note in
tests/notes/corpus/<style>/<id>.yaml, with the Procedures, ImagingStudies and expected coding of the note."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
STYLES = {
    "formal-operative", "templated-ehr", "terse-bullets", "dictation", "billing-summary", "abbreviation-heavy",
    "typos", "structured-sections", "long-narrative", "multi-procedure", "negative-controls",
}
MIN_PER_STYLE = 15
MIN_TOTAL = 200
MAX_NOTE_BYTES = 8 * 1024
ENCOUNTER_CLASSES = {"AMB", "IMP", "EMER", "ACUTE", "OBSENC", "SS", "HH", "VR"}
PAYERS = {"medicare", "rt-lt"}
SIDES = {"right", "left", "bilateral", None}
FATES = {"removed", "stayed", None}
STATUSES = {"completed", "not-done", "preparation", "in-progress", "stopped"}
MODIFIERS = {"RT", "LT", "50", "76", "77", "XS", "XE", "26", "59"}
# HCPCS anatomic digit modifiers of finger (F1-F9, FA) and toe (T1-T9, TA) joints.
MODIFIERS |= {f"{g}{d}" for g in "FT" for d in "123456789A"}
PLEURAL_CODES = ["32554", "32555", "32556", "32557"]
# Gap ids of the issue that a pack may not carry yet.
EXTRA_GAPS = {"catheter-disposition"}
ICD10 = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")
CPT = re.compile(r"^(\d{4}[0-9A-Z]|[A-V]\d{4})$")  # CPT, or a HCPCS Level II code (drug supply J3301)
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


def _known_gaps() -> set[str]:
    ids = set(EXTRA_GAPS)
    for pack in (ROOT / "cards").glob("*.yaml"):
        ids |= {d["id"] for d in yaml.safe_load(pack.read_text()).get("documentation", [])}
    return ids


def _files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path}: not a mapping"
    return doc


FILES = _files()
KNOWN_GAPS = _known_gaps()


def test_corpus_size_and_styles() -> None:
    counts = Counter(p.parent.name for p in FILES)
    assert set(counts) <= STYLES, f"unknown style folders: {set(counts) - STYLES}"
    assert set(counts) == STYLES, f"styles without notes: {STYLES - set(counts)}"
    thin = {s: n for s, n in counts.items() if n < MIN_PER_STYLE}
    assert not thin, f"styles under {MIN_PER_STYLE} notes: {thin}"
    assert len(FILES) >= MIN_TOTAL


def test_ids_unique_and_equal_to_stems() -> None:
    ids = [_load(p)["id"] for p in FILES]
    assert [p.stem for p in FILES] == ids
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_note_is_well_formed(path: Path) -> None:
    doc = _load(path)
    where = path.relative_to(CORPUS)
    assert set(doc) <= {"id", "style", "note", "encounter_class", "payer", "diagnoses", "procedures", "imaging",
                        "expected"}, f"{where}: unknown keys"
    assert doc["style"] == path.parent.name, f"{where}: style differs from its folder"
    note = doc["note"]
    assert isinstance(note, str) and note.strip(), f"{where}: empty note"
    assert len(note.encode("utf-8")) <= MAX_NOTE_BYTES, f"{where}: note longer than 8 KB"
    assert doc.get("encounter_class", "AMB") in ENCOUNTER_CLASSES, f"{where}: encounter_class"
    assert doc.get("payer", "medicare") in PAYERS, f"{where}: payer"
    assert all(ICD10.match(c) for c in doc.get("diagnoses", [])), f"{where}: diagnoses"

    procedures = doc["procedures"]
    assert isinstance(procedures, list) and procedures, f"{where}: no procedures"
    for proc in procedures:
        _check_procedure(where, proc)
    for study in doc.get("imaging", []):
        assert isinstance(study["modality"], str) and study["modality"].isupper(), f"{where}: modality"
        assert isinstance(study["instances"], int) and study["instances"] >= 0, f"{where}: instances"
        if "procedure" in study:
            assert 0 <= study["procedure"] < len(procedures), f"{where}: imaging procedure index out of range"
        if "started" in study:
            assert INSTANT.match(study["started"]), f"{where}: imaging started"

    expected = doc["expected"]
    assert set(expected) <= {"lines", "not_codes", "gaps", "procedures"}, f"{where}: unknown expected keys"
    for line in expected["lines"]:
        assert set(line) == {"code", "modifiers", "units"}, f"{where}: line keys"
        assert CPT.match(line["code"]), f"{where}: line code {line['code']}"
        assert set(line["modifiers"]) <= MODIFIERS, f"{where}: modifiers {line['modifiers']}"
        assert not {"RT", "LT"} <= set(line["modifiers"]), f"{where}: RT and LT on one line"
        assert isinstance(line["units"], int) and line["units"] >= 1, f"{where}: units"
    not_codes = expected.get("not_codes", [])
    assert all(CPT.match(c) for c in not_codes), f"{where}: not_codes"
    assert not {ln["code"] for ln in expected["lines"]} & set(not_codes), f"{where}: a line is in not_codes"
    gaps = expected["gaps"]
    assert len(set(gaps)) == len(gaps) and set(gaps) <= KNOWN_GAPS, f"{where}: gaps {gaps}"
    assert len(expected["procedures"]) == len(procedures), f"{where}: expected.procedures length"
    for fields in expected["procedures"]:
        assert set(fields) == {"side", "fate", "guidance", "volume_ml", "complications"}, f"{where}: fields"
        assert fields["side"] in SIDES and fields["fate"] in FATES, f"{where}: side/fate"
        assert isinstance(fields["guidance"], bool) and isinstance(fields["complications"], bool), f"{where}"
        volume = fields["volume_ml"]  # a fraction of a mL from a finger or toe joint
        assert volume is None or (isinstance(volume, (int, float)) and volume >= 0), f"{where}: volume_ml"


def _check_procedure(where: Path, proc: dict[str, Any]) -> None:
    assert set(proc) <= {"code", "body_site", "status", "start", "end"}, f"{where}: procedure keys"
    code = proc["code"]
    assert ("system" in code and "code" in code) or "text" in code, f"{where}: procedure code"
    assert proc.get("body_site", "right") in {"right", "left", "bilateral"}, f"{where}: body_site"
    assert proc.get("status", "completed") in STATUSES, f"{where}: status"
    for key in ("start", "end"):
        assert key not in proc or INSTANT.match(proc[key]), f"{where}: {key}"


def test_negative_controls_forbid_the_pleural_codes() -> None:
    for path in CORPUS.glob("negative-controls/*.yaml"):
        expected = _load(path)["expected"]
        assert set(PLEURAL_CODES) <= set(expected.get("not_codes", [])), f"{path.name}: not_codes"
