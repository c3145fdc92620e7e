"""Discovery, service calls and health. HTTP only: the work is done by the pipeline."""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..limits import check_bundle_entries
from ..services import SERVICES, SERVICES_BY_ID, ServiceDefinition
from ..store import StoreUnavailable
from .errors import ServiceError
from .validation import json_body, validate

log = logging.getLogger(__name__)
bp = Blueprint("cds", __name__)


@bp.get("/cds-services")
def discovery():
    return jsonify({"services": [service.discovery_entry() for service in SERVICES]})


def service_or_404(service_id: str) -> ServiceDefinition:
    service = SERVICES_BY_ID.get(service_id)
    if service is None:
        raise ServiceError(404, f"no CDS service with id '{service_id}'")
    return service


_lenient_logged: set[tuple[str, str]] = set()
_lenient_lock = threading.Lock()


def _note_sibling_hook(service: ServiceDefinition, hook: str) -> None:
    """Log once per worker and (service, hook) that a sibling hook was answered: the sandbox does it on every
    change, so a line per call would drown the log. Both names are our own constants, never request text."""
    with _lenient_lock:
        if (service.id, hook) in _lenient_logged:
            return
        _lenient_logged.add((service.id, hook))
    log.info(f"service answers hook '{hook}' as '{service.hook}' (same context shape)", extra={"service": service.id})


def read_hook_call(service: ServiceDefinition) -> dict:
    settings = current_app.config["SETTINGS"]
    call = json_body(request, settings.max_body_bytes, settings.max_json_depth)
    validate(call, "hook-request.schema.json")
    g.hook_instance = call["hookInstance"]
    if not service.answers(call["hook"]):
        raise ServiceError(
            400, f"service '{service.id}' answers hook '{service.hook}', not '{call['hook']}'", expression="hook"
        )
    # The context is checked against the called service's own hook: sibling hooks share its shape.
    validate(call["context"], f"context-{service.hook.rsplit('.', 1)[-1]}.schema.json", prefix="context.")
    if call["hook"] != service.hook:
        _note_sibling_hook(service, next(h for h in service.also_answers if h == call["hook"]))
    check_bundle_entries(call, settings.max_bundle_entries)
    return call


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str):
    service = service_or_404(service_id)
    call = read_hook_call(service)
    started = time.perf_counter()
    response = current_app.extensions["cds_pipeline"].answer(service, call)
    log.info(
        "hook answered",
        extra={
            "service": service.id,
            "hookInstance": call["hookInstance"],
            "cards": len(response["cards"]),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return jsonify(response)


@bp.get("/healthz")
def health():
    """Liveness: the worker answers HTTP. Nothing else is checked (a database outage must not restart pods)."""
    return jsonify({"status": "ok"})


@bp.get("/healthz/ready")
def ready():
    """Readiness: the store answers a query and rule packs are loaded; 503 OperationOutcome naming what fails."""
    problems = []
    try:
        current_app.extensions["cds_store"].ping()
    except StoreUnavailable:
        problems.append("the store (audit trail and feedback database) does not answer")
    packs = len(getattr(getattr(current_app.extensions["cds_pipeline"].coder, "book", None), "packs", ()) or ())
    if not packs:
        problems.append("no rule packs are loaded")
    if problems:
        raise ServiceError(503, "not ready: " + "; ".join(problems))
    return jsonify({"status": "ready", "store": "ok", "rulePacks": packs})


@cache
def _openapi_document() -> bytes:
    # Kept in the repository as a file (a test checks it against the routes); served as is.
    return (Path(__file__).resolve().parent.parent / "openapi.json").read_bytes()


@bp.get("/openapi.json")
def openapi():
    return Response(_openapi_document(), mimetype="application/json")
