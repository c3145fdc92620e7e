"""Every error leaves the service as a FHIR OperationOutcome, never HTML or a traceback."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# HTTP status -> OperationOutcome issue code (FHIR issue-type value set).
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "incomplete",
    413: "too-long",
    414: "too-long",
    431: "too-long",
    415: "not-supported",
    429: "throttled",
}


class ServiceError(Exception):
    """An error the caller can act on; its message is safe to show (no PHI, no secrets)."""

    def __init__(self, status: int, message: str, expression: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.expression = expression


def operation_outcome(message: str, status: int = 400, expression: str | None = None) -> dict:
    issue = {
        "severity": "error" if status < 500 else "fatal",
        "code": _ISSUE_CODES.get(status, "exception" if status >= 500 else "processing"),
        "diagnostics": message,
    }
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def outcome_response(message: str, status: int, expression: str | None = None) -> Response:
    body = json.dumps(operation_outcome(message, status, expression))
    return Response(body, status=status, mimetype="application/fhir+json")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(err: ServiceError):
        return outcome_response(err.message, err.status, err.expression)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        response = outcome_response(err.description or err.name, status)
        if status == 405 and err.get_response().headers.get("Allow"):
            response.headers["Allow"] = err.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # Log the type and the hook instance only: exception messages may quote request data.
        log.error(
            "unexpected error",
            extra={"hookInstance": getattr(g, "hook_instance", None), "error": type(err).__name__},
            exc_info=app.debug,
        )
        return outcome_response("Internal error; the service logged it.", 500)
