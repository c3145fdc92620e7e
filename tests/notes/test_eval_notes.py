"""`cds-service eval-notes`: the corpus loader, the note-sign call it builds and the scores it prints."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path

import pytest

from cds_service.cli import main
from cds_service.commands.evaluate import checked_call
from cds_service.commands.note_corpus import CorpusError, hook_call, load_corpus
from cds_service.services import SERVICES_BY_ID

NOTE = """\
id: {id}
style: dictation
note: |
  Right thoracentesis under ultrasound guidance, 800 mL removed, catheter removed. No complications.
diagnoses: [J90]
procedures:
  - code: {{system: "http://snomed.info/sct", code: "91602002", display: "Thoracentesis"}}
    body_site: {body_site}
imaging:
  - {{modality: US, instances: 2, procedure: 0}}
expected:
  lines:
    - {{code: "32555", modifiers: [RT], units: 1}}
  not_codes: ["32556", "32557"]
  gaps: []
  procedures:
    - {{side: right, fate: removed, guidance: true, volume_ml: 800, complications: true}}
"""


def _write(folder: Path, note_id: str, body_site: str = "right") -> Path:
    path = folder / "dictation" / f"{note_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NOTE.format(id=note_id, body_site=body_site), encoding="utf-8")
    return path


def test_hook_call_is_a_valid_note_sign_call_carrying_the_note_and_its_procedures(tmp_path):
    _write(tmp_path, "dictation-001")
    note = load_corpus(tmp_path)[0]
    call = checked_call(hook_call(note), SERVICES_BY_ID["procedure-coding-note-sign"])
    document = call["context"]["note"]
    text = base64.b64decode(document["content"][0]["attachment"]["data"]).decode("utf-8")
    assert text == note.note
    assert document["context"]["related"] == [{"reference": "Procedure/p1"}]
    procedure = call["prefetch"]["procedures"]["entry"][0]["resource"]
    assert procedure["bodySite"][0]["coding"][0]["code"] == "24028007"
    study = call["prefetch"]["imagingStudies"]["entry"][0]["resource"]
    assert study["procedureReference"] == {"reference": "Procedure/p1"}
    assert study["started"] < procedure["performedPeriod"]["start"]
    assert call["prefetch"]["conditions"]["entry"][0]["resource"]["code"]["coding"][0]["code"] == "J90"


def test_a_file_whose_id_is_not_its_name_is_refused_with_the_file_named(tmp_path):
    path = _write(tmp_path, "dictation-001")
    path.rename(path.with_name("other.yaml"))
    with pytest.raises(CorpusError, match=r"other\.yaml: field 'id'"):
        load_corpus(tmp_path)


def test_eval_notes_scores_lines_and_fields(tmp_path, capsys):
    _write(tmp_path, "dictation-001")
    _write(tmp_path, "dictation-002", body_site="left")  # bodySite says left: the line is 32555-LT, not RT
    assert main(["eval-notes", str(tmp_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] == 2 and report["in_scope"] == 2
    assert report["not_codes_violations"] == []
    assert report["fields"]["code"]["tp"] == 2
    assert {m["id"] for m in report["misses"]} >= {"dictation-002"}
    assert main(["eval-notes", str(tmp_path)]) == 0
    assert "exact lines: in scope" in capsys.readouterr().out


def test_eval_notes_reports_a_broken_corpus_without_a_traceback(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "bad.yaml").write_text(textwrap.dedent("id: bad\nstyle: x\n"), encoding="utf-8")
    assert main(["eval-notes", str(tmp_path)]) == 2
    assert "bad.yaml: field 'note'" in capsys.readouterr().err
