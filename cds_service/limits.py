"""Caps on what one hook call may carry, checked after the envelope is valid and before any work is done.

The body-size cap and the nesting-depth cap live in protocol/validation.py (they apply while parsing);
this module caps the number of entries in the Bundles a call brings (draftOrders, prefetched searches),
which bounds the work of the rules engine. Errors name the field.
"""

from __future__ import annotations

from .protocol.errors import ServiceError


def _entry_count(value: object) -> int:
    if isinstance(value, dict) and value.get("resourceType") == "Bundle" and isinstance(value.get("entry"), list):
        return len(value["entry"])
    return 0


def check_bundle_entries(call: dict, max_entries: int) -> None:
    """413 naming the first Bundle (in context or prefetch) with more than max_entries entries."""
    places = [(f"context.{name}", value) for name, value in (call.get("context") or {}).items()]
    prefetch = call.get("prefetch")
    if isinstance(prefetch, dict):
        places += [(f"prefetch.{key}", value) for key, value in prefetch.items()]
    for field, value in places:
        count = _entry_count(value)
        if count > max_entries:
            raise ServiceError(
                413, f"'{field}' has {count} Bundle entries; at most {max_entries} are accepted",
                expression=f"{field}.entry",
            )
