"""Logging: plain text in development, one JSON object per line in production.

Only ids, hookInstance, rule ids and timings are logged: never tokens, JWTs, note text, names or dates
of birth. Fields come in through `extra=`; anything not on the allowlist below is dropped.
"""

from __future__ import annotations

import logging
import sys
import time

import orjson

SAFE_FIELDS = (
    "service", "hookInstance", "cards", "ms", "error", "status", "rule", "reason", "iss", "kid",
    "path", "method", "key", "outcome", "count", "profile", "jku",
)


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool):
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name) for name in SAFE_FIELDS if hasattr(record, name)}
        if self.as_json:
            payload = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + "Z",
                "level": record.levelname.lower(),
                "logger": record.name,
                "pid": record.process,  # which gunicorn worker
                "message": record.getMessage(),
                **fields,
            }
            return orjson.dumps(payload, default=str).decode()  # a third of json.dumps's cost per line
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        return f"{record.levelname:<7} {record.name}: {record.getMessage()}" + (f" [{extra}]" if extra else "")


def configure_logging(as_json: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(as_json))
    root = logging.getLogger("cds_service")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
