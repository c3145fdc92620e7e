"""A deterministic FHIR Bulk Data export for the audit benchmark and tests, made from the project's own
data: the coding fixtures (fhir_fixtures/requests) and the Synthea bundles in shared/data/synthea.

Each template patient is copied with every id and reference rewritten (`<id>-c<n>`), so copies never
collide; fixture copies also move through the months of 2024 and get one of a few billing variants (no
claim, a right claim, a claim without modifiers, a claim with an extra guidance line, a wrong code), so the
audit meets every status. Nothing is downloaded; the same arguments always write the same files.

    python -m bench.audit_export OUT_DIR --encounters 100000 [--gzip] [--synthea N]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fhir_fixtures" / "requests"
SHARED = ROOT.parent / "shared" / "data" / "synthea"
CPT = "http://www.ama-assn.org/go/cpt"
MARK = "~CPY~"
TYPES = ("Patient", "Encounter", "Procedure", "Condition", "ImagingStudy", "Observation", "DocumentReference",
         "ServiceRequest", "Coverage", "MedicationAdministration", "Claim", "ExplanationOfBenefit")


@dataclass
class Template:
    name: str
    encounters: int
    resources: list[tuple[str, str]]  # (type, JSON with MARK after every id)
    dated: bool  # fixture dates (2024-03) move month by month from copy to copy
    procedures: list[tuple[str, str | None]]  # (Procedure id, its CPT code) for the billing variants


def _entries(value: object) -> Iterator[dict]:
    if isinstance(value, dict):
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry") or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    yield entry["resource"]
        elif "resourceType" in value:
            yield value


def _rewrite(value: object, urls: dict[str, str]) -> object:
    """Every id and reference gets MARK appended; urn:uuid references become Type/id."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                item = urls.get(item, item)
                if "/" in item and not item.startswith(("http", "urn:")) and "?" not in item:
                    item = item + MARK
            elif key == "id" and isinstance(item, str) and "resourceType" in value:
                item = item + MARK
            else:
                item = _rewrite(item, urls)
            out[key] = item
        return out
    if isinstance(value, list):
        return [_rewrite(v, urls) for v in value]
    return value


def _template(name: str, resources: list[dict], urls: dict[str, str], dated: bool) -> Template:
    kept = [r for r in resources if r.get("resourceType") in TYPES]
    procedures = []
    for r in kept:
        if r["resourceType"] == "Procedure":
            cpt = next((c.get("code") for c in (r.get("code") or {}).get("coding", []) if c.get("system") == CPT), None)
            procedures.append((r["id"], cpt))
    return Template(
        name=name,
        encounters=sum(1 for r in kept if r["resourceType"] == "Encounter"),
        resources=[(r["resourceType"], json.dumps(_rewrite(r, urls), separators=(",", ":"))) for r in kept],
        dated=dated,
        procedures=procedures,
    )


def fixture_templates() -> list[Template]:
    templates = []
    for path in sorted(FIXTURES.glob("*.json")):
        call = json.loads(path.read_text(encoding="utf-8"))
        if call["hook"] not in ("encounter-discharge", "org.procedure-coding.note-sign"):
            continue
        found: dict[tuple[str, str], dict] = {}
        for value in [*call.get("prefetch", {}).values(), call["context"].get("note")]:
            for resource in _entries(value):
                found.setdefault((resource["resourceType"], resource.get("id", "")), resource)
        templates.append(_template(path.stem, list(found.values()), {}, dated=True))
    return templates


def synthea_templates(folder: Path = SHARED) -> list[Template]:
    templates = []
    for path in sorted(folder.glob("*/*.json")):
        if path.parent.name == "modules":
            continue
        bundle = json.loads(path.read_text(encoding="utf-8"))
        resources = [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
        urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
                for e in bundle.get("entry", []) if e.get("fullUrl") and isinstance(e.get("resource"), dict)}
        templates.append(_template(path.stem, resources, urls, dated=False))
    return templates


def _claim(template: Template, copy: int, patient: str, encounter: str) -> str | None:
    """Billing variant by copy number: none, right-ish, no modifiers, extra guidance line, wrong code."""
    variant = copy % 5
    if variant == 0 or not template.procedures:
        return None
    items, procedures = [], []
    for seq, (pid, cpt) in enumerate(template.procedures, start=1):
        code = cpt or "32555"
        if variant == 4:
            code = {"32555": "32554", "32554": "32555", "49083": "49082", "49082": "49083"}.get(code, code)
        procedures.append({"sequence": seq, "procedureReference": {"reference": f"Procedure/{pid}{MARK}"}})
        item = {"sequence": seq, "procedureSequence": [seq], "encounter": [{"reference": encounter}],
                "productOrService": {"coding": [{"system": CPT, "code": code}]}}
        if variant in (1, 3, 4):
            item["modifier"] = [{"coding": [{"system": CPT, "code": "RT"}]}]
        items.append(item)
    if variant == 3:
        items.append({"sequence": len(items) + 1, "encounter": [{"reference": encounter}],
                      "productOrService": {"coding": [{"system": CPT, "code": "76942"}]}})
    claim = {"resourceType": "Claim", "id": f"claim-{template.name[:40]}{MARK}", "status": "active",
             "use": "claim", "patient": {"reference": patient}, "created": "2024-03-10",
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Medicare"}}],
             "procedure": procedures, "item": items}
    return json.dumps(claim, separators=(",", ":"))


def _copies(templates: list[Template], encounters: int) -> Iterator[tuple[int, Template, int]]:
    """Templates in turn until the encounter count is reached (copy numbers count up across the rounds)."""
    made, copy = 0, 0
    while made < encounters:
        for index, template in enumerate(templates):
            if made >= encounters:
                return
            yield index, template, copy
            made += max(template.encounters, 1)
        copy += 1


def write_export(out: Path, encounters: int, compress: bool = False, synthea: int | None = None) -> dict[str, int]:
    """Writes one NDJSON file per type into `out`; returns the lines written per type. `synthea`: how many
    Synthea bundles to use as templates (all by default)."""
    out.mkdir(parents=True, exist_ok=True)
    templates = fixture_templates() + synthea_templates()[:synthea]
    suffix = ".ndjson.gz" if compress else ".ndjson"
    handles = {t: (gzip.open(out / f"{t}{suffix}", "wt", encoding="utf-8", compresslevel=1) if compress
                   else open(out / f"{t}{suffix}", "w", encoding="utf-8")) for t in TYPES}
    counts = dict.fromkeys(TYPES, 0)
    try:
        for index, template, copy in _copies(templates, encounters):
            tag = f"-t{index}c{copy}"  # fixtures share ids (pt-1, enc-1): the template index keeps them apart
            month = f"2024-{copy % 12 + 1:02d}-"
            patient = encounter = None
            for rtype, text in template.resources:
                text = text.replace(MARK, tag)
                if template.dated:
                    text = text.replace("2024-03-", month)
                handles[rtype].write(text + "\n")
                counts[rtype] += 1
                if rtype == "Patient" and patient is None:
                    patient = "Patient/" + json.loads(text)["id"]
                if rtype == "Encounter" and encounter is None:
                    encounter = "Encounter/" + json.loads(text)["id"]
            if template.dated and patient and encounter:
                claim = _claim(template, copy, patient, encounter)
                if claim:
                    handles["Claim"].write(claim.replace(MARK, tag) + "\n")
                    counts["Claim"] += 1
    finally:
        for handle in handles.values():
            handle.close()
    for rtype in TYPES:  # no empty files: an export lists only the types it has
        if counts[rtype] == 0:
            (out / f"{rtype}{suffix}").unlink()
    return {t: n for t, n in counts.items() if n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--synthea", type=int, default=None, help="Synthea bundles used (default: all)")
    args = parser.parse_args()
    print(json.dumps(write_export(args.out, args.encounters, args.gzip, args.synthea)))


if __name__ == "__main__":
    main()
