"""Synthea patient bundles as hook calls: every encounter becomes an `encounter-discharge` call with full
prefetch, and a note-sign call where the encounter has a Procedure and a note or report.

The bundles are Synthea transaction/collection Bundles whose references are `urn:uuid:` fullUrls. A FHIR
server that loads such a Bundle answers with `Type/id` references, so the calls carry what a server would:
every `urn:uuid:` reference of the Bundle rewritten to `Type/id`. Older Synthea versions link resources to
their encounter with the STU3 field `context`; both `encounter` and `context` count here, so those
resources reach the service as the EHR holds them and the engine has to cope.

Run `python -m tests.robustness.synthea` (from the repository root) to rewrite `synthea_report.md`.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cds_service.services import NOTE_SIGN_HOOK

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SYNTHEA_DIRS = ("synthea/pleural_and_related", "synthea/ordinary")
REPORT = Path(__file__).resolve().parent / "synthea_report.md"
DISCHARGE = "procedure-coding-encounter-discharge"
NOTE_SIGN = "procedure-coding-note-sign"
SNOMED = "http://snomed.info/sct"
# The procedures this service codes, by SNOMED CT (research notes: /work/shared/reference/coding-rules.md §5).
RELEVANT_SNOMED = {
    "91602002": "thoracentesis",
    "264957007": "insertion of pleural tube drain",
    "446847002": "drainage of pleural cavity via chest tube",
    "177788009": "open drainage of pleural cavity",
    "34193001": "closed drainage of chest",
    "89305009": "abdominal paracentesis",
}
SEARCH_KEYS = {
    "conditions": "Condition",
    "procedures": "Procedure",
    "imagingStudies": "ImagingStudy",
    "observations": "Observation",
    "documents": "DocumentReference",
    "medications": "MedicationAdministration",
}


def bundle_files(root: Path = SHARED_DATA) -> list[Path]:
    return sorted(path for folder in SYNTHEA_DIRS for path in (root / folder).glob("*.json"))


def _rewrite(node: object, targets: dict[str, str]) -> object:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in targets:
                out[key] = targets[value]
            else:
                out[key] = _rewrite(value, targets)
        return out
    if isinstance(node, list):
        return [_rewrite(item, targets) for item in node]
    return node


def as_served(bundle: dict) -> list[dict]:
    """The Bundle's resources as a FHIR server holding them would answer them: `Type/id` references."""
    targets: dict[str, str] = {}
    resources = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full_url = entry.get("fullUrl", "")
        if "id" not in resource and full_url.startswith("urn:uuid:"):
            resource = {**resource, "id": full_url.removeprefix("urn:uuid:")}
        if full_url:
            targets[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    return [_rewrite(resource, targets) for resource in resources]


def encounter_of(resource: dict) -> str | None:
    for name in ("encounter", "context"):  # `context`: STU3 name, still in early Synthea R4 exports
        value = resource.get(name)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            return value["reference"]
    context = resource.get("context")  # DocumentReference.context.encounter: a list of references
    if resource.get("resourceType") == "DocumentReference" and isinstance(context, dict):
        for ref in context.get("encounter") or []:
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                return ref["reference"]
    return None


def relevant_family(procedure: dict) -> str | None:
    for coding in (procedure.get("code") or {}).get("coding") or []:
        if coding.get("system") == SNOMED and coding.get("code") in RELEVANT_SNOMED:
            return RELEVANT_SNOMED[coding["code"]]
    return None


def _searchset(resources: list[dict]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in resources],
    } if resources else {"resourceType": "Bundle", "type": "searchset", "total": 0}


@dataclass
class EncounterCase:
    patient_file: str
    patient: dict
    encounter: dict
    by_type: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    @property
    def key(self) -> str:
        return f"Encounter/{self.encounter['id']}"

    @property
    def procedures(self) -> list[dict]:
        return self.by_type["Procedure"]

    def _envelope(self, hook: str, context: dict) -> dict:
        return {
            "hook": hook,
            "hookInstance": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.key}/{hook}")),
            "context": {"userId": "Practitioner/synthea", "patientId": self.patient["id"],
                        "encounterId": self.encounter["id"], **context},
            "prefetch": {
                "patient": self.patient,
                "encounter": self.encounter,
                **{key: _searchset(self.by_type[rtype]) for key, rtype in SEARCH_KEYS.items()},
                "coverage": _searchset([]),  # Synthea writes insurance as Claims, not Coverage
            },
        }

    def discharge_call(self) -> dict:
        return self._envelope("encounter-discharge", {})

    def note(self) -> dict | None:
        """The note to sign: the encounter's DocumentReference, else one made from its DiagnosticReport, with
        `context.related` naming the encounter's Procedures (what the note-sign hook defines)."""
        if not self.procedures:
            return None
        related = [{"reference": f"Procedure/{p['id']}"} for p in self.procedures]
        for document in self.by_type["DocumentReference"]:
            if document.get("content"):
                return {**document, "context": {**(document.get("context") or {}), "related": related}}
        for report in self.by_type["DiagnosticReport"]:
            forms = [f for f in report.get("presentedForm") or [] if isinstance(f, dict) and f.get("data")]
            if not forms:
                text = " ".join(filter(None, [(report.get("code") or {}).get("text"), report.get("conclusion")]))
                forms = [{"contentType": "text/plain", "data": base64.b64encode(text.encode()).decode()}]
            return {
                "resourceType": "DocumentReference",
                "id": f"from-{report['id']}"[:64],
                "status": "current",
                "type": report.get("code") or {"text": "report"},
                "subject": report.get("subject"),
                "content": [{"attachment": form} for form in forms],
                "context": {"encounter": [{"reference": self.key}], "related": related},
            }
        return None

    def note_sign_call(self) -> dict | None:
        note = self.note()
        return self._envelope(NOTE_SIGN_HOOK, {"note": note}) if note else None


def encounter_cases(path: Path) -> Iterator[EncounterCase]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    resources = as_served(bundle)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    encounters = {f"Encounter/{r['id']}": EncounterCase(path.name, patient, r)
                  for r in resources if r["resourceType"] == "Encounter"}
    for resource in resources:
        case = encounters.get(encounter_of(resource) or "")
        if case is not None:
            case.by_type[resource["resourceType"]].append(resource)
    yield from encounters.values()


@dataclass
class CodedProcedure:
    patient_file: str
    encounter: str
    procedure: str
    family: str
    service: str
    lines: list[str]
    gaps: list[str]
    rule: str | None


def coding_lines(cards: list[dict]) -> dict[str, dict]:
    """subject -> the `cpt-coding.suggestion` extension of its card."""
    found = {}
    for card in cards:
        extension = (card.get("extension") or {}).get("cpt-coding.suggestion")
        if isinstance(extension, dict) and extension.get("subject"):
            found[extension["subject"]] = extension
    return found


def line_text(line: dict) -> str:
    modifiers = "-".join(line.get("modifiers") or [])
    units = line.get("units", 1)
    return f"{line['code']}{('-' + modifiers) if modifiers else ''}{f' x{units}' if units != 1 else ''}"


def write_report(rows: list[CodedProcedure], totals: dict[str, int], path: Path = REPORT) -> None:
    out = [
        "# Synthea encounters through the service",
        "",
        "Generated by `python -m tests.robustness.synthea` from the Synthea bundles in `../shared/data/synthea/`",
        "(every encounter as an `encounter-discharge` call with full prefetch; a note-sign call where the",
        "encounter has a Procedure and a DocumentReference or DiagnosticReport).",
        "",
        "| | count |",
        "|---|---|",
        *(f"| {name} | {count} |" for name, count in totals.items()),
        "",
        "## Procedures this service codes, and the lines suggested",
        "",
        "| patient bundle | encounter | procedure | SNOMED CT family | service | lines | documentation gaps | rule |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {r.patient_file.split('_')[0]} {r.patient_file.split('_')[1]} | {r.encounter} | {r.procedure} | "
          f"{r.family} | {r.service} | {', '.join(r.lines) or '(none)'} | {', '.join(r.gaps) or '-'} | "
          f"{r.rule or '-'} |" for r in rows),
        "",
    ]
    path.write_text("\n".join(out), encoding="utf-8")


def run_all(client, root: Path = SHARED_DATA) -> tuple[list[dict], list[CodedProcedure], dict[str, int]]:
    """Every call through `client` (a Flask test client). Returns the failures, the coded procedures, totals."""
    failures: list[dict] = []
    rows: list[CodedProcedure] = []
    totals = {"bundles": 0, "encounters": 0, "procedures": 0, "discharge calls": 0, "note-sign calls": 0,
              "cards": 0, "relevant procedures": 0}
    from cds_service.protocol.response_check import response_problems

    for path in bundle_files(root):
        totals["bundles"] += 1
        for case in encounter_cases(path):
            totals["encounters"] += 1
            totals["procedures"] += len(case.procedures)
            calls = [(DISCHARGE, case.discharge_call())]
            note_call = case.note_sign_call()
            if note_call:
                calls.append((NOTE_SIGN, note_call))
            for service, call in calls:
                totals["discharge calls" if service == DISCHARGE else "note-sign calls"] += 1
                response = client.post(f"/cds-services/{service}", json=call)
                body = response.get_json(silent=True)
                problems = response_problems(body) if response.status_code == 200 else []
                if response.status_code != 200 or problems:
                    failures.append({"file": path.name, "encounter": case.key, "service": service,
                                     "status": response.status_code, "problems": problems[:3],
                                     "body": response.get_data(as_text=True)[:300]})
                    continue
                totals["cards"] += len(body["cards"])
                coded = coding_lines(body["cards"])
                for procedure in case.procedures:
                    family = relevant_family(procedure)
                    subject = f"Procedure/{procedure['id']}"
                    if family is None and subject not in coded:
                        continue
                    extension = coded.get(subject, {})
                    if service == DISCHARGE and family:
                        totals["relevant procedures"] += 1
                    rows.append(CodedProcedure(
                        path.name, case.key, subject, family or "not a coded family", service,
                        [line_text(line) for line in extension.get("lines") or []],
                        list(extension.get("documentationGaps") or []), extension.get("rule"),
                    ))
    return failures, rows, totals


def main() -> int:
    import tempfile

    from cds_service.app import create_app
    from cds_service.config import Settings

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(sqlite_path=Path(folder) / "cds.sqlite3"))
        failures, rows, totals = run_all(app.test_client())
    write_report(rows, totals)
    print(f"wrote {REPORT} ({len(rows)} coded procedures, {len(failures)} failed calls)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
