"""Property tests of the FHIR layer: structural checks, ClinicalData and prefetch template filling."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.fhir.access import ClinicalData, KeyResult, Outcome, fill_template
from cds_service.fhir.client import entry_resources, next_link
from cds_service.fhir.shape import FIELDS, invalid_reason

from .strategies import any_resource, fhir_resources, json_values

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
KINDS = {"string": str, "object": dict, "array": list, "boolean": bool}
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _has_kind(kind: str, value: object) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, KINDS[kind])


@PROPERTY_SETTINGS
@given(any_resource)
def test_a_resource_passes_only_when_every_read_field_has_its_r4_type(resource):
    reason = invalid_reason(resource)
    assert reason is None or isinstance(reason, str) and reason
    if reason is not None:
        return
    assert isinstance(resource, dict) and isinstance(resource["resourceType"], str) and resource["resourceType"]
    if resource.get("id") is not None:  # a JSON null id is read as no id
        assert isinstance(resource["id"], str) and FHIR_ID.fullmatch(resource["id"]), resource["id"]
    for name, expected in FIELDS.get(resource["resourceType"], {}).items():
        if name not in resource:
            continue
        if isinstance(expected, tuple):
            assert isinstance(resource[name], list)
            assert all(_has_kind(expected[1], item) for item in resource[name])
        else:
            assert _has_kind(expected, resource[name])


def test_id_with_a_trailing_newline_is_not_a_fhir_id():
    # `$` in a Python regex also matches before a final newline: ids are checked with fullmatch.
    assert invalid_reason({"resourceType": "Procedure", "id": "p1\n"}) == "id is not a valid FHIR id"
    assert invalid_reason({"resourceType": "Procedure", "id": "p1"}) is None


def _key_results(groups: list[list]) -> dict[str, KeyResult]:
    return {f"k{i}": KeyResult(f"k{i}", Outcome.PROVIDED, list(group)) for i, group in enumerate(groups)}


@PROPERTY_SETTINGS
@given(st.lists(st.lists(any_resource, max_size=6), max_size=4), st.lists(any_resource, max_size=3))
def test_clinical_data_keeps_valid_resources_and_names_every_skipped_one(groups, context_resources):
    data = ClinicalData(results=_key_results(groups), context_resources=list(context_resources))
    everything = [*context_resources, *(r for group in groups for r in group)]
    invalid = [r for r in everything if invalid_reason(r) is not None]
    assert len(data.skipped) == len(invalid)
    assert all(isinstance(line, str) and line for line in data.skipped)

    kept = [r for rtype in {r.get("resourceType") for r in everything if isinstance(r, dict)}
            if isinstance(rtype, str) for r in data.of_type(rtype)]
    assert all(invalid_reason(r) is None for r in kept)
    # Each (type, id) once; resources without an id are all kept.
    keys = [(r["resourceType"], r["id"]) for r in kept if isinstance(r.get("id"), str)]
    assert len(keys) == len(set(keys))
    valid_keys = {(r["resourceType"], r.get("id")) for r in everything if invalid_reason(r) is None}
    assert {(r["resourceType"], r.get("id")) for r in kept} == valid_keys
    assert data.unread == []


@PROPERTY_SETTINGS
@given(st.lists(fhir_resources(), max_size=5))
def test_the_first_copy_of_a_duplicated_resource_wins(resources):
    valid = [r for r in resources if invalid_reason(r) is None and isinstance(r.get("id"), str)]
    data = ClinicalData(results=_key_results([resources, [dict(r, status="entered-in-error") for r in valid]]))
    for resource in valid:
        same = [r for r in data.of_type(resource["resourceType"]) if r.get("id") == resource["id"]]
        assert len(same) == 1 and same[0].get("status") != "entered-in-error" or resource.get("status") == (
            "entered-in-error"
        )


@PROPERTY_SETTINGS
@given(json_values)
def test_bundle_helpers_accept_any_json(value):
    if isinstance(value, dict):
        assert all(isinstance(r, dict) for r in entry_resources(value))
        link = next_link(value)
        assert link is None or isinstance(link, str)


TEMPLATES = st.sampled_from(
    [
        "Patient/{{context.patientId}}",
        "Encounter/{{context.encounterId}}",
        "Procedure?patient={{context.patientId}}&encounter={{context.encounterId}}",
        "Coverage?patient={{context.patientId}}&status=active",
        "Observation?patient={{ context.patientId }}",
        "Patient?_id={{context.userId}}",
        "Procedure?code=91602002",
    ]
)
context_values = st.one_of(
    st.from_regex(r"\A(Patient/|Encounter/|Practitioner/)?[A-Za-z0-9\-.]{1,64}\Z"),
    st.text(max_size=30),
    st.integers(),
    json_values,
)
contexts = st.dictionaries(st.sampled_from(["patientId", "encounterId", "userId", "other"]), context_values)
_TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


def _fhir_id(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).split("/")[-1]
    return text if FHIR_ID.fullmatch(text) and text not in (".", "..") else None


@PROPERTY_SETTINGS
@given(TEMPLATES, contexts)
def test_fill_template_puts_only_fhir_ids_into_queries(template, context):
    filled = fill_template(template, context)
    names = _TOKEN.findall(template)
    ids = {name: _fhir_id(context.get(name)) for name in names}
    if any(value is None for value in ids.values()):
        # A token without a usable id: no query at all, rather than a query for the wrong data.
        assert filled is None
        return
    expected = template
    for name, value in ids.items():
        expected = re.sub(r"\{\{\s*context\." + name + r"\s*\}\}", value, expected)
    assert filled == expected


def test_fill_template_refuses_values_that_would_change_the_query():
    template = "Procedure?patient={{context.patientId}}&encounter={{context.encounterId}}"
    assert fill_template(template, {"patientId": "p1", "encounterId": "e1"}) == "Procedure?patient=p1&encounter=e1"
    assert fill_template(template, {"patientId": "Patient/p1", "encounterId": "Encounter/e1"}) == (
        "Procedure?patient=p1&encounter=e1"
    )
    # '#' would cut the encounter filter off (all the patient's procedures); '&' would add parameters.
    assert fill_template(template, {"patientId": "p1#", "encounterId": "e1"}) is None
    assert fill_template(template, {"patientId": "p1&_count=1000", "encounterId": "e1"}) is None
    assert fill_template("Encounter/{{context.encounterId}}", {"encounterId": ".."}) is None
    assert fill_template(template, {"patientId": "p1", "encounterId": True}) is None
