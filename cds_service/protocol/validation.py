"""Request bodies: size, JSON parsing, nesting depth and JSON Schema validation (schemas in the package)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs
import orjson
from flask import Request
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from .errors import ServiceError

if TYPE_CHECKING:
    pass  # not re-exported by the package; used for typing only

_SCHEMA_FILES = (
    "defs.schema.json",
    "hook-request.schema.json",
    "context-order-sign.schema.json",
    "context-order-select.schema.json",
    "context-encounter-discharge.schema.json",
    "context-note-sign.schema.json",
    "context-patient-view.schema.json",
    "feedback.schema.json",
)

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value and "t" not in value:
        raise ValueError("not an RFC 3339 date-time")
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        raise ValueError("RFC 3339 date-time needs a time zone")
    return True


@cache
def _registry() -> Registry:
    folder = Path(__file__).resolve().parent.parent / "schemas"
    registry = Registry()
    for name in _SCHEMA_FILES:
        contents = json.loads((folder / name).read_text(encoding="utf-8"))
        registry = registry.with_resource(name, Resource.from_contents(contents))
    return registry


@cache
def validator(schema_name: str) -> Draft202012Validator:
    """jsonschema: the reference implementation, and the source of the error messages."""
    registry = _registry()
    return Draft202012Validator(registry.contents(schema_name), registry=registry, format_checker=_formats)


@cache
def _fast_validator(schema_name: str) -> jsonschema_rs.Validator:
    """The same schema compiled by jsonschema-rs: about 100x faster, used to pass valid input quickly.

    Formats are off, as they are for the schemas that take this path (jsonschema here checks only the
    date-time format, which the feedback schema uses; feedback does not take this path).
    """
    registry = _registry()
    rs_registry = jsonschema_rs.Registry([(name, registry.contents(name)) for name in _SCHEMA_FILES])
    return jsonschema_rs.validator_for(registry.contents(schema_name), registry=rs_registry, validate_formats=False)


# The schemas on every hook call's path. Input jsonschema-rs finds invalid is checked again by jsonschema,
# which decides and names the field, so both must disagree before anything changes.
_FAST_PATH = frozenset(name for name in _SCHEMA_FILES if name.startswith(("hook-request", "context-")))


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def validate(instance: Any, schema_name: str, prefix: str = "") -> None:
    """Raise a 400 ServiceError naming the first offending field (stable order: shallowest first)."""
    if schema_name in _FAST_PATH and _fast_validator(schema_name).is_valid(instance):
        return
    errors = sorted(validator(schema_name).iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return
    error = errors[0]
    field = _path(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        field = ".".join(p for p in (field, missing) if p)
        message = f"missing required field '{prefix}{field}'"
    elif error.validator == "dependentRequired":
        message = f"{prefix}fhirServer is required when fhirAuthorization is present"
        field = "fhirServer"
    else:
        shown = error.message if len(error.message) < 200 else error.message[:200] + "..."
        message = f"invalid value at '{prefix}{field or '(body)'}': {shown}"
    raise ServiceError(400, message, expression=f"{prefix}{field}" if field else None)


# The depth check reads the body's bytes: brackets and quotes are all it needs to see.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_FOLD_BRACES = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def _nesting(raw: bytes, limit: int) -> int:
    """How deep containers nest in valid UTF-8 JSON text, counted up to limit + 1.

    Walking the parsed body cost twice json.loads (every scalar is visited); bytes methods run in C and
    cost a small fraction of it, however large the encounter.
    """
    if b"\\" in raw:
        # Drop escaped backslashes, then escaped quotes: every '"' left opens or closes a string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = raw.translate(_FOLD_BRACES, _NOT_STRUCTURE)
    # Quotes alternate open/close, so two adjacent ones enclose no bracket: dropping them keeps every
    # bracket inside or outside its string. What is still quoted holds brackets (rare).
    marks = marks.replace(b'""', b"")
    if b'"' in marks:
        marks = _QUOTED.sub(b"", marks)
    depth = 0
    while marks and depth <= limit:
        marks = marks.replace(b"[]", b"")  # one pass removes the innermost level
        depth += 1
    return depth


def _depth_ok(raw: bytes, value: Any, limit: int) -> bool:
    """No value deeper than `limit` levels (the body is level 1); `value` is `raw` parsed (UTF-8 JSON)."""
    nesting = _nesting(raw, limit)
    if nesting != limit:
        # Values sit at most one level below the deepest container; a container past the limit fails.
        return nesting < limit
    # At the limit only the values can tell (an empty container there is allowed): walk them.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def json_body(request: Request, max_bytes: int, max_depth: int) -> Any:
    """The request body as JSON, after the content-type, size and depth checks."""
    mimetype = request.mimetype or ""
    if mimetype not in ("application/json", "application/fhir+json") and not mimetype.endswith("+json"):
        raise ServiceError(415, "Content-Type must be application/json")
    length = request.content_length
    if length is not None and length > max_bytes:
        raise ServiceError(413, f"request body is larger than {max_bytes} bytes")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ServiceError(413, f"request body is larger than {max_bytes} bytes")
    try:
        body = orjson.loads(raw)  # 2-3x json.loads; UTF-8 only, as RFC 8259 requires on the wire
    except ValueError as exc:  # orjson's JSONDecodeError
        # orjson says what and where (line, column), never quoting the body.
        raise ServiceError(400, f"request body is not valid JSON: {str(exc)[:200]}") from None
    if not _depth_ok(raw, body, max_depth):
        raise ServiceError(400, f"request body is nested deeper than {max_depth} levels")
    if not isinstance(body, dict):
        raise ServiceError(400, "request body must be a JSON object")
    return body
