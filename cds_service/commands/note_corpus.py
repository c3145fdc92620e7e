"""The labelled note corpus (`tests/notes/corpus/<style>/<id>.yaml`, format in the README section "Reading
notes"): loading the files and building, per note, the note-sign hook call an EHR would send.

The call carries everything in its prefetch (Patient, Encounter, Procedures, Conditions, ImagingStudies,
Coverage) and the note as a base64 DocumentReference whose `context.related` lists the procedures, so it runs
through the service's own path with no FHIR server.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ..evidence.values import DICOM_DCM, ICD10CM, SNOMED
from ..services import NOTE_SIGN_HOOK

DEFAULT_START = "2026-03-04T10:15:00Z"
PROCEDURE_MINUTES = 25
# SNOMED CT body-site qualifiers the EHR would code when it records a side.
BODY_SITES = {
    "right": ("24028007", "Right"),
    "left": ("7771000", "Left"),
    "bilateral": ("51440002", "Right and left"),
}
# Payer names the payer profiles in cards/payers recognise.
PAYERS = {"medicare": "Medicare", "rt-lt": "Example Commercial Health"}
SIDES = ("right", "left", "bilateral", None)
FATES = ("removed", "stayed", None)


class CorpusError(ValueError):
    """A corpus file does not follow the format; the message names the file and the field."""


@dataclass(frozen=True)
class ExpectedProcedure:
    side: str | None
    fate: str | None
    guidance: bool
    volume_ml: float | None
    complications: bool


@dataclass(frozen=True)
class LabelledNote:
    id: str
    style: str
    path: str
    note: str
    encounter_class: str
    payer: str
    diagnoses: tuple[str, ...]
    procedures: tuple[dict, ...]
    imaging: tuple[dict, ...]
    lines: tuple[tuple[str, tuple[str, ...], int], ...]  # (code, sorted modifiers, units)
    not_codes: frozenset[str]
    gaps: frozenset[str]
    expected: tuple[ExpectedProcedure, ...] = field(default=())


def _fail(path: Path, where: str, message: str) -> CorpusError:
    return CorpusError(f"{path}: field '{where}': {message}")


def _instant(value: Any, path: Path, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _fail(path, where, f"not an ISO date-time: {value!r}") from None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def load_note(path: Path) -> LabelledNote:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: cannot be read as YAML: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise CorpusError(f"{path}: must be a mapping")
    for key in ("id", "style", "note", "procedures", "expected"):
        if key not in raw:
            raise _fail(path, key, "is required")
    if raw["id"] != path.stem:
        raise _fail(path, "id", f"must equal the file name {path.stem!r}")
    procedures = raw["procedures"]
    if not isinstance(procedures, list) or not procedures:
        raise _fail(path, "procedures", "must list at least one procedure")
    expected = raw["expected"] or {}
    lines = []
    for i, line in enumerate(expected.get("lines") or []):
        if not isinstance(line, dict) or "code" not in line:
            raise _fail(path, f"expected.lines[{i}]", "needs a code")
        lines.append((str(line["code"]), tuple(sorted(str(m) for m in line.get("modifiers") or [])),
                      int(line.get("units", 1))))
    per_procedure = []
    labelled = expected.get("procedures") or []
    for i, item in enumerate(labelled):
        item = item or {}
        side, fate = item.get("side"), item.get("fate")
        if side not in SIDES:
            raise _fail(path, f"expected.procedures[{i}].side", f"must be one of {SIDES}")
        if fate not in FATES:
            raise _fail(path, f"expected.procedures[{i}].fate", f"must be one of {FATES}")
        volume = item.get("volume_ml")
        per_procedure.append(ExpectedProcedure(
            side=side, fate=fate, guidance=bool(item.get("guidance")),
            volume_ml=float(volume) if isinstance(volume, int | float) else None,
            complications=bool(item.get("complications")),
        ))
    if per_procedure and len(per_procedure) != len(procedures):
        raise _fail(path, "expected.procedures", f"has {len(per_procedure)} entries for {len(procedures)} procedures")
    return LabelledNote(
        id=str(raw["id"]), style=str(raw["style"]), path=str(path), note=str(raw["note"]),
        encounter_class=str(raw.get("encounter_class") or "AMB"), payer=str(raw.get("payer") or "medicare"),
        diagnoses=tuple(str(d) for d in raw.get("diagnoses") or []),
        procedures=tuple(procedures), imaging=tuple(raw.get("imaging") or []),
        lines=tuple(lines), not_codes=frozenset(str(c) for c in expected.get("not_codes") or []),
        gaps=frozenset(str(g) for g in expected.get("gaps") or []), expected=tuple(per_procedure),
    )


def load_corpus(folder: Path) -> list[LabelledNote]:
    """Every `*.yaml` under `folder` (one note per file), sorted by path; ids must be unique."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: not a folder")
    notes = [load_note(p) for p in sorted(folder.rglob("*.yaml"))]
    seen: dict[str, str] = {}
    for note in notes:
        if note.id in seen:
            raise CorpusError(f"{note.path}: field 'id': {note.id!r} is also the id of {seen[note.id]}")
        seen[note.id] = note.path
    return notes


def _concept(code: dict) -> dict:
    concept: dict = {}
    if code.get("code"):
        coding = {"system": code.get("system") or SNOMED, "code": str(code["code"])}
        if code.get("display"):
            coding["display"] = code["display"]
        concept["coding"] = [coding]
    if code.get("text"):
        concept["text"] = code["text"]
    return concept


def _bundle(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "entry": [{"fullUrl": f"urn:corpus:{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }


def procedure_id(index: int) -> str:
    return f"p{index + 1}"


def hook_call(note: LabelledNote) -> dict:
    """The note-sign call for one labelled note: the note and every resource the coder reads, prefetched."""
    path = Path(note.path)
    patient, encounter = {"reference": "Patient/pt-1"}, {"reference": "Encounter/enc-1"}
    procedures = []
    starts: list[datetime] = []
    for i, item in enumerate(note.procedures):
        where = f"procedures[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("code"), dict):
            raise _fail(path, f"{where}.code", "is required (system/code or text)")
        base = _instant(DEFAULT_START, path, where) + timedelta(hours=i)
        start = _instant(item["start"], path, f"{where}.start") if item.get("start") else base
        end = (_instant(item["end"], path, f"{where}.end") if item.get("end")
               else start + timedelta(minutes=PROCEDURE_MINUTES))
        starts.append(start)
        resource = {
            "resourceType": "Procedure", "id": procedure_id(i), "status": item.get("status") or "completed",
            "code": _concept(item["code"]), "subject": patient, "encounter": encounter,
            "performedPeriod": {"start": _iso(start), "end": _iso(end)},
            "performer": [{"actor": {"reference": "Practitioner/pr-1"}}],
        }
        side = item.get("body_site")
        if side:
            if side not in BODY_SITES:
                raise _fail(path, f"{where}.body_site", "must be right, left or bilateral")
            code, display = BODY_SITES[side]
            resource["bodySite"] = [{"coding": [{"system": SNOMED, "code": code, "display": display}]}]
        procedures.append(resource)

    studies = []
    for i, item in enumerate(note.imaging):
        linked = item.get("procedure")
        if linked is not None and not (isinstance(linked, int) and 0 <= linked < len(procedures)):
            raise _fail(path, f"imaging[{i}].procedure", "must index 'procedures'")
        anchor = starts[linked if linked is not None else 0]
        started = (_instant(item["started"], path, f"imaging[{i}].started") if item.get("started")
                   else anchor - timedelta(minutes=10))
        modality = str(item.get("modality") or "US")
        instances = int(item.get("instances", 1))
        study = {
            "resourceType": "ImagingStudy", "id": f"img-{i + 1}", "status": "available",
            "modality": [{"system": DICOM_DCM, "code": modality}], "subject": patient, "encounter": encounter,
            "started": _iso(started), "numberOfSeries": 1, "numberOfInstances": instances,
            "series": [{"uid": f"2.25.{i + 1}", "modality": {"system": DICOM_DCM, "code": modality},
                        "numberOfInstances": instances}],
        }
        if linked is not None:
            study["procedureReference"] = {"reference": f"Procedure/{procedure_id(linked)}"}
        studies.append(study)

    conditions = [
        {
            "resourceType": "Condition", "id": f"c{i + 1}",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": ICD10CM, "code": code}]}, "subject": patient, "encounter": encounter,
        }
        for i, code in enumerate(note.diagnoses)
    ]
    payer = PAYERS.get(note.payer, note.payer)
    coverage = {"resourceType": "Coverage", "id": "cov-1", "status": "active", "beneficiary": patient,
                "payor": [{"display": payer}]}
    document = {
        "resourceType": "DocumentReference", "id": "note-1", "status": "current",
        "type": {"text": "Procedure note"}, "subject": patient,
        "content": [{"attachment": {"contentType": "text/plain",
                                    "data": base64.b64encode(note.note.encode("utf-8")).decode("ascii")}}],
        "context": {"encounter": [encounter],
                    "related": [{"reference": f"Procedure/{p['id']}"} for p in procedures]},
    }
    return {
        "hook": NOTE_SIGN_HOOK,
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/pr-1", "patientId": "pt-1", "encounterId": "enc-1", "note": document},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "pt-1"},
            "encounter": {"resourceType": "Encounter", "id": "enc-1", "status": "finished", "subject": patient,
                          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                    "code": note.encounter_class}},
            "conditions": _bundle(conditions),
            "procedures": _bundle(procedures),
            "imagingStudies": _bundle(studies),
            "observations": None,
            "documents": None,
            "coverage": _bundle([coverage]),
        },
    }


def known_codes(book) -> frozenset[str]:
    """Every CPT code the loaded packs can suggest, and their drug supply codes (a note is in scope when all its
    expected codes are here)."""
    drugs = {c.code for pack in book.packs if pack.drugs is not None for d in pack.drugs.items for c in d.codes}
    return frozenset(code for pack in book.packs for code in pack.codes) | drugs

