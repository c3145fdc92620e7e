"""Small hand-made Bulk Data exports for the audit tests: fixture encounters with the claims a test needs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import load_fixture

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


def fixture_resources(name: str, tag: str) -> list[dict]:
    """The resources of a request fixture, every id and reference suffixed with `tag` (one patient each)."""
    call = load_fixture(f"requests/{name}")
    found: dict[tuple[str, str], dict] = {}
    for value in [*call["prefetch"].values(), call["context"].get("note")]:
        if not isinstance(value, dict):
            continue
        entries = [e["resource"] for e in value.get("entry", [])] if value.get("resourceType") == "Bundle" else [value]
        for resource in entries:
            found.setdefault((resource["resourceType"], resource["id"]), resource)
    return [_suffixed(r, tag) for r in found.values()]


def _suffixed(value, tag: str):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and "/" in item:
                out[key] = item + tag
            elif key == "id" and "resourceType" in value:
                out[key] = item + tag
            else:
                out[key] = _suffixed(item, tag)
        return out
    if isinstance(value, list):
        return [_suffixed(v, tag) for v in value]
    return value


def claim(cid: str, tag: str, items: list[dict], procedures: list[str] = (), rtype: str = "Claim", **extra) -> dict:
    """A Claim (or EOB) for pt-1/enc-1 of the fixture tagged `tag`; items are (code, modifiers, procedure)."""
    body = {
        "resourceType": rtype, "id": cid + tag, "status": "active", "use": "claim",
        "patient": {"reference": f"Patient/pt-1{tag}"}, "created": "2024-03-05",
        "procedure": [{"sequence": i, "procedureReference": {"reference": f"Procedure/{p}{tag}"}}
                      for i, p in enumerate(procedures, start=1)],
        "item": [],
        **extra,
    }
    for seq, item in enumerate(items, start=1):
        line = {"sequence": seq, "productOrService": {"coding": [{"system": item.get("system", CPT),
                                                                  "code": item["code"]}]}}
        if not body.get("billablePeriod"):  # a claim with a billable period finds its encounter by the day
            line["encounter"] = [{"reference": f"Encounter/enc-1{tag}"}]
        if item.get("modifiers"):
            line["modifier"] = [{"coding": [{"system": item.get("modifier_system", CPT), "code": m}]}
                                for m in item["modifiers"]]
        if item.get("procedure"):
            line["procedureSequence"] = [procedures.index(item["procedure"]) + 1]
        if item.get("units"):
            line["quantity"] = {"value": item["units"]}
        body["item"].append(line)
    return body


def write_ndjson(folder: Path, resources: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for rtype, lines in by_type.items():
        (folder / f"{rtype}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
