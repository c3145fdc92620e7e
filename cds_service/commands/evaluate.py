"""`cds-service evaluate REQUEST.json`: answer a hook request file without a server.

The request goes through the service's own path (envelope validation, then Pipeline: prefetch/fetch,
coding engine, cards); nothing is recorded. Prints the response JSON, then a table of lines, modifiers
and documentation gaps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..coding import build_coder
from ..config import Settings
from ..pipeline import Pipeline
from ..protocol.errors import ServiceError, operation_outcome
from ..protocol.validation import validate
from ..rendering.cards import EXTENSION
from ..services import SERVICES, SERVICES_BY_ID, ServiceDefinition


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("request", type=Path, help="a CDS Hooks request as JSON (e.g. fhir_fixtures/requests/*.json)")
    parser.add_argument("--service", choices=sorted(SERVICES_BY_ID), help="service id (default: by the hook)")
    parser.add_argument("--json-only", action="store_true", help="print the response JSON only")


def service_for(call: dict, service_id: str | None) -> ServiceDefinition:
    if service_id:
        return SERVICES_BY_ID[service_id]
    for service in SERVICES:
        if service.hook == call.get("hook"):
            return service
    raise ServiceError(400, f"no service answers hook {call.get('hook')!r}", expression="hook")


def checked_call(call: object, service: ServiceDefinition) -> dict:
    """The same envelope checks as the HTTP route (schemas in cds_service/schemas)."""
    validate(call, "hook-request.schema.json")
    if not service.answers(call["hook"]):
        raise ServiceError(400, f"service '{service.id}' answers hook '{service.hook}', not '{call['hook']}'",
                           expression="hook")
    validate(call["context"], f"context-{service.hook.rsplit('.', 1)[-1]}.schema.json", prefix="context.")
    return call


def table(response: dict) -> str:
    rows = [("subject", "lines", "not separately billable", "documentation gaps", "indicator")]
    for card in response["cards"]:
        suggestion = (card.get("extension") or {}).get(EXTENSION)
        if suggestion is None:
            rows.append(("-", "-", "-", "-", card["indicator"]))
            continue
        lines = ", ".join(
            "-".join([line["code"], *line.get("modifiers", [])]) + (f" x{line['units']}" if line["units"] != 1 else "")
            for line in suggestion.get("lines", [])
        )
        rows.append((
            suggestion["subject"], lines or "(none)", ", ".join(suggestion.get("notSeparatelyBillable", [])) or "-",
            ", ".join(suggestion.get("documentationGaps", [])) or "-", card["indicator"],
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def run(args: argparse.Namespace) -> int:
    try:
        call = json.loads(args.request.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.request}: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    try:
        service = service_for(call if isinstance(call, dict) else {}, args.service)
        pipeline = Pipeline(settings, build_coder(settings))
        try:
            response = pipeline.answer(service, checked_call(call, service))
        finally:
            pipeline.executor.shutdown(wait=False)
    except ServiceError as err:
        print(json.dumps(operation_outcome(err.message, err.status, err.expression), indent=2))
        return 1
    print(json.dumps(response, indent=2))
    if not args.json_only:
        print()
        print(table(response))
    return 0
