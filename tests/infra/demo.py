"""`make demo`: the playground's scenarios as patients on a local FHIR server, the service, and sandbox URLs.

    .venv/bin/python -m tests.infra.demo [--fhir-port N] [--port N]     (0 = a free port, the default)

Starts the loopback FHIR server of the tests (Medplum's engine, CORS on so that a browser page may read it),
loads every encounter-discharge and note-sign scenario of `fhir_fixtures/requests/` as its own patient (ids
prefixed per scenario, dates moved so that the last procedure was yesterday: patient-view reads the last 30
days), starts the service (development profile: the CDS Hooks sandbox's token is trusted), asks its
patient-view service about every patient and prints sandbox URLs for three patients with cards. Ctrl+C stops
both servers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tests.infra import fhir_server as fhir_infra
from tests.infra.service import RunningService, start_service

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fhir_fixtures" / "requests"
SANDBOX = "https://sandbox.cds-hooks.org/"
PATIENT_VIEW = "/cds-services/procedure-coding-patient-view"
DEMO_HOOKS = ("encounter-discharge", "org.procedure-coding.note-sign")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$")
_NOT_SHIFTED = frozenset({"birthDate"})

Resource = dict[str, Any]


@dataclass(frozen=True)
class DemoPatient:
    scenario: str
    patient_id: str
    resources: list[Resource]


def _walk(value: Any, visit) -> Any:
    if isinstance(value, dict):
        return {key: visit(key, _walk(item, visit)) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, visit) for item in value]
    return value


def shift_dates(resource: Resource, days: int) -> Resource:
    """The resource with every FHIR date and dateTime moved by `days` (birth dates stay as they are)."""

    def visit(key: str, value: Any) -> Any:
        if key in _NOT_SHIFTED or not isinstance(value, str) or not _DATE.match(value):
            return value
        if "T" not in value:
            return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
        text = moved.isoformat()
        return text.replace("+00:00", "Z") if value.endswith("Z") else text

    return _walk(resource, visit)


def _procedure_start(resource: Resource) -> str | None:
    period = resource.get("performedPeriod") if isinstance(resource.get("performedPeriod"), dict) else {}
    value = resource.get("performedDateTime") or period.get("start")
    return value if isinstance(value, str) and _DATE.match(value) else None


def days_to_yesterday(resources: list[Resource], today: date | None = None) -> int:
    """How many days to move a scenario so that its latest procedure took place yesterday."""
    starts = [_procedure_start(r) for r in resources if r.get("resourceType") == "Procedure"]
    days = [date.fromisoformat(s[:10]) for s in starts if s]
    if not days:
        return 0
    return ((today or datetime.now(UTC).date()) - timedelta(days=1) - max(days)).days


def _request_resources(call: dict) -> list[Resource]:
    found: list[Resource] = []
    values = list((call.get("prefetch") or {}).values())
    note = (call.get("context") or {}).get("note")
    values.append(note)
    for value in values:
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            found.extend(e["resource"] for e in value.get("entry", []) if isinstance(e.get("resource"), dict))
        elif value.get("resourceType") not in (None, "OperationOutcome"):
            found.append(value)
    return [r for r in found if isinstance(r.get("id"), str)]


def _title(name: str) -> str:
    return " ".join(word.capitalize() for word in name.split(".", 1)[0].split("-"))


def scenario_patient(name: str, call: dict, today: date | None = None) -> DemoPatient:
    """One scenario as one patient: its own ids (prefixed), references rewritten, dates up to yesterday."""
    stem = name.split(".", 1)[0]
    patient_id = f"demo-{stem}"[:64]
    prefix = hashlib.sha1(stem.encode()).hexdigest()[:8]  # stable across runs, distinct per scenario
    original_patient = str((call.get("context") or {}).get("patientId", "")).split("/")[-1]
    resources = _request_resources(call)
    ids = {(r["resourceType"], r["id"]): f"{prefix}-{r['id']}"[:64] for r in resources}
    ids[("Patient", original_patient)] = patient_id
    if not any(r["resourceType"] == "Patient" for r in resources):
        resources.append({"resourceType": "Patient", "id": original_patient})
    # Every patient gets a name: the sandbox's patient banner shows it.
    for resource in resources:
        if resource["resourceType"] == "Patient":
            resource.setdefault("name", [{"family": "Demo", "given": [_title(stem)]}])
            resource.setdefault("gender", "unknown")
            resource.setdefault("birthDate", "1950-01-01")

    def visit(key: str, value: Any) -> Any:
        # Relative (`Type/id`) and absolute (`https://ehr.example/fhir/Type/id`) references to the scenario's own
        # resources become relative references to their new ids.
        if key == "reference" and isinstance(value, str) and "/" in value:
            rtype, rid = value.rstrip("/").split("/")[-2:]
            new = ids.get((rtype, rid))
            return f"{rtype}/{new}" if new else value
        return value

    rewritten = []
    for resource in resources:
        copy = _walk(resource, visit)
        copy["id"] = ids[(resource["resourceType"], resource["id"])]
        rewritten.append(copy)
    days = days_to_yesterday(rewritten, today)
    return DemoPatient(name, patient_id, [shift_dates(r, days) for r in rewritten])


def demo_patients(folder: Path = SCENARIOS) -> list[DemoPatient]:
    patients = []
    for path in sorted(folder.glob("*.json")):
        call = json.loads(path.read_text(encoding="utf-8"))
        if call.get("hook") in DEMO_HOOKS:
            patients.append(scenario_patient(path.name.removesuffix(".json"), call))
    return patients


def load_patients(base_url: str, patients: list[DemoPatient]) -> tuple[list[DemoPatient], list[str]]:
    """Store each patient's resources; a scenario the server refuses is left out and named."""
    loaded, refused = [], []
    for patient in patients:
        try:
            fhir_infra.load(base_url, patient.resources)
        except fhir_infra.FhirServerError as exc:
            refused.append(f"{patient.scenario}: {str(exc)[:200]}")
            continue
        loaded.append(patient)
    return loaded, refused


def patient_view(service_url: str, fhir_url: str, patient_id: str) -> list[dict]:
    """What the service answers a patient-view call without prefetch (it reads the FHIR server itself)."""
    call = {
        "hook": "patient-view",
        "hookInstance": f"demo-{patient_id}",
        "fhirServer": fhir_url,
        "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": patient_id},
    }
    response = requests.post(service_url + PATIENT_VIEW, json=call, timeout=10)
    response.raise_for_status()
    return response.json()["cards"]


def sandbox_url(service_url: str, fhir_url: str, patient_id: str, screen: str = "patient-view") -> str:
    params = {
        "serviceDiscoveryURL": f"{service_url}/cds-services",
        "fhirServiceUrl": fhir_url,
        "patientId": patient_id,
        "hook": "patient-view" if screen == "patient-view" else "order-sign",
        "screen": screen,
    }
    return SANDBOX + "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())


@contextmanager
def running_demo(
    fhir_port: int = 0, port: int = 0, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[tuple[str, RunningService, list]]:
    """The FHIR server (CORS on) with the demo patients, and the service (`env` added to its environment);
    both stopped on exit."""
    with fhir_infra.start(port=fhir_port or None, cors=True) as fhir:
        loaded, refused = load_patients(fhir.base_url, demo_patients())
        for line in refused:
            print(f"scenario not loaded: {line}", file=sys.stderr)
        folder = Path(tempfile.mkdtemp(prefix="cds-demo-"))
        service_env = {
            "CDS_PROFILE": "development", "CDS_SQLITE_PATH": str(folder / "cds.sqlite3"), "CDS_PLAYGROUND": "1",
            **(env or {}),
        }
        service = start_service(env=service_env, workers=workers, log_dir=folder, port=port or None)
        try:
            yield fhir.base_url, service, loaded
        finally:
            service.stop()


def choose_three(service_url: str, fhir_url: str, patients: list[DemoPatient]) -> list[tuple[DemoPatient, list]]:
    """Three patients whose chart shows cards, warnings first, with different rules where possible."""
    chosen, rules = [], set()
    answered = [(patient, patient_view(service_url, fhir_url, patient.patient_id)) for patient in patients]
    answered.sort(key=lambda item: -sum(card["indicator"] == "warning" for card in item[1]))
    for patient, cards in answered:
        rule = {card.get("extension", {}).get("cpt-coding.suggestion", {}).get("rule") for card in cards}
        if cards and not rule <= rules and len(chosen) < 3:
            chosen.append((patient, cards))
            rules |= rule
    for patient, cards in answered:
        if cards and len(chosen) < 3 and all(patient is not p for p, _ in chosen):
            chosen.append((patient, cards))
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fhir-port", type=int, default=0, help="FHIR server port (default: a free one)")
    parser.add_argument("--port", type=int, default=0, help="service port (default: a free one)")
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    with running_demo(args.fhir_port, args.port, workers=2) as (fhir_url, service, patients):
        print(f"FHIR server (CORS on): {fhir_url}   {len(patients)} patients")
        print(f"CDS service:           {service.base_url}/cds-services   playground: {service.base_url}/playground")
        for patient, cards in choose_three(service.base_url, fhir_url, patients):
            print(f"\n{patient.scenario}: {len(cards)} card(s), e.g. \"{cards[0]['summary']}\"")
            for key, value in (("serviceDiscoveryURL", f"{service.base_url}/cds-services"),
                               ("fhirServiceUrl", fhir_url), ("patientId", patient.patient_id),
                               ("screen", "patient-view")):
                print(f"  {key:<20} {value}")
            print(f"  open: {sandbox_url(service.base_url, fhir_url, patient.patient_id)}")
        print("\nCtrl+C stops both servers.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGINT alike (a shell's background job starts with SIGINT ignored)


if __name__ == "__main__":
    sys.exit(main())
