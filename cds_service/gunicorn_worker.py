"""A gunicorn worker whose own protocol errors are OperationOutcomes too.

gunicorn answers requests it cannot parse (a bad request line, a header past its limits) before the
application sees them, with an HTML page. The service promises JSON OperationOutcomes for every error, so
gunicorn's error writer is replaced in the worker processes. Only the status and reason are echoed: the
parser's message can quote request data.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from .protocol.errors import operation_outcome


def write_outcome(sock, status_int: int, reason: str, mesg: str) -> None:
    body = json.dumps(operation_outcome(f"{reason}: the HTTP request could not be read", status_int)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = write_outcome  # gunicorn's workers call util.write_error for these answers


class OutcomeThreadWorker(ThreadWorker):
    """gunicorn's gthread worker; importing this module installs the OperationOutcome error writer."""


class OutcomeSyncWorker(SyncWorker):
    """gunicorn's sync worker (one request at a time, no keep-alive), with the same error writer."""
