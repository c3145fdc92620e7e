"""Discovery, service calls and health. HTTP only: the work is done by the pipeline."""

from __future__ import annotations

import logging
import time
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, g, jsonify, request

from ..limits import check_bundle_entries
from ..services import SERVICES, SERVICES_BY_ID, ServiceDefinition
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


def read_hook_call(service: ServiceDefinition) -> dict:
    settings = current_app.config["SETTINGS"]
    call = json_body(request, settings.max_body_bytes, settings.max_json_depth)
    validate(call, "hook-request.schema.json")
    g.hook_instance = call["hookInstance"]
    if call["hook"] != service.hook:
        raise ServiceError(
            400, f"service '{service.id}' answers hook '{service.hook}', not '{call['hook']}'", expression="hook"
        )
    validate(call["context"], f"context-{service.hook.rsplit('.', 1)[-1]}.schema.json", prefix="context.")
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
    return jsonify({"status": "ok"})


@cache
def _openapi_document() -> bytes:
    # Kept in the repository as a file (a test checks it against the routes); served as is.
    return (Path(__file__).resolve().parent.parent / "openapi.json").read_bytes()


@bp.get("/openapi.json")
def openapi():
    return Response(_openapi_document(), mimetype="application/json")
