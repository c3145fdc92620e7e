"""jsonschema-rs passes valid hook calls quickly; jsonschema decides the rest. They must agree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.protocol.validation import _FAST_PATH, _fast_validator, validator

REQUESTS = sorted((Path(__file__).resolve().parent.parent / "fhir_fixtures" / "requests").glob("*.json"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def agree(schema_name: str, instance: object) -> None:
    fast = _fast_validator(schema_name).is_valid(instance)
    reference = not any(True for _ in validator(schema_name).iter_errors(instance))
    assert fast == reference, (schema_name, instance)


def _schemas_for(call: dict) -> list[tuple[str, object]]:
    hook = str(call.get("hook", "")).rsplit(".", 1)[-1]
    pairs = [("hook-request.schema.json", call)]
    if f"context-{hook}.schema.json" in _FAST_PATH:
        pairs.append((f"context-{hook}.schema.json", call.get("context")))
    return pairs


@pytest.mark.parametrize("path", REQUESTS, ids=[p.name for p in REQUESTS])
def test_engines_agree_on_every_fixture(path):
    for schema_name, instance in _schemas_for(json.loads(path.read_text(encoding="utf-8"))):
        agree(schema_name, instance)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(REQUESTS),
    st.sampled_from(["hookInstance", "fhirServer", "fhirAuthorization", "prefetch", "context", "extension"]),
    st.one_of(st.just("delete"), json_values),
    st.sampled_from(["userId", "patientId", "encounterId", "draftOrders", "note", "selections"]),
    st.one_of(st.just("delete"), json_values),
)
def test_engines_agree_on_mutated_calls(path, top, top_value, field, field_value):
    call = copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))
    for target, key, value in ((call, top, top_value), (call.get("context"), field, field_value)):
        if not isinstance(target, dict):
            continue
        if value == "delete":
            target.pop(key, None)
        else:
            target[key] = value
    for schema_name, instance in _schemas_for(call):
        agree(schema_name, instance)
