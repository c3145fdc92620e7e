"""Full FHIR validation with fhir.resources (R4B models, which parse R4 resources), off the hot path.

The service reads plain dicts checked field by field (`shape.py`): modelling a resource costs tens of times
more (README, FHIR parsing). This module is for `cds-service validate` and the test suite: it finds every
resource in a file (a hook request, a Bundle, a single resource) and reports what the models reject, by JSON
path (`$.prefetch.procedures.entry[0].resource.performedDateTime`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

# Bundles are checked entry by entry (each resource with its own path); their own fields without the entries.
_CONTAINERS = ("Bundle",)


@cache
def _model(resource_type: str) -> Any | None:
    from fhir.resources.R4B import get_fhir_model_class  # imported on first use: ~0.2 s and pydantic models

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


def _is_resource(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("resourceType"), str)


def _path(base: str, loc: tuple) -> str:
    text = base
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def resources_in(document: Any, path: str = "$") -> Iterator[tuple[str, dict]]:
    """Every FHIR resource of a file with its JSON path: a resource, the entries of a Bundle (recursively), or
    the resources of a CDS Hooks request (context values and prefetch)."""
    if _is_resource(document):
        yield path, document
        if document["resourceType"] in _CONTAINERS:
            for i, entry in enumerate(document.get("entry") or []):
                if isinstance(entry, dict) and _is_resource(entry.get("resource")):
                    yield from resources_in(entry["resource"], f"{path}.entry[{i}].resource")
        return
    if isinstance(document, dict) and "hook" in document and isinstance(document.get("context"), dict):
        for key, value in document["context"].items():
            if _is_resource(value):
                yield from resources_in(value, f"{path}.context.{key}")
        for key, value in (document.get("prefetch") or {}).items():
            if _is_resource(value):
                yield from resources_in(value, f"{path}.prefetch.{key}")


def resource_problems(resource: dict, path: str = "$") -> list[str]:
    """What fhir.resources rejects in one resource (a Bundle without its entries' resources), by JSON path."""
    from pydantic import ValidationError

    model = _model(resource["resourceType"])
    if model is None:
        return [f"{path}.resourceType: unknown resource type '{resource['resourceType']}'"]
    if resource["resourceType"] in _CONTAINERS:
        resource = {**resource, "entry": [
            {k: v for k, v in entry.items() if k != "resource"} if isinstance(entry, dict) else entry
            for entry in resource.get("entry") or []
        ]}
        if not resource["entry"]:
            del resource["entry"]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [f"{_path(path, tuple(error['loc']))}: {error['msg']}" for error in exc.errors()]
    return []


def document_problems(document: Any) -> tuple[int, list[str]]:
    """How many resources a file holds and what is wrong with them."""
    count, problems = 0, []
    for path, resource in resources_in(document):
        count += 1
        problems.extend(resource_problems(resource, path))
    return count, problems
