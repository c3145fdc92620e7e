"""Property tests of evidence extraction and the rules engine with random and malformed FHIR resources.

Through the engine's public entry (`build_coder(settings).cards(service, call, ClinicalData(...))`):
- no exception escapes, whatever the resources hold;
- every answer passes the one response validator;
- a CPT line is only ever suggested for a subject some rule pack recognises (its SNOMED CT or procedure CPT
  code, its code text matching a pack's recognition pattern, or a note of the call naming a procedure the
  pack reads in notes), and only with a code some pack lists.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from functools import cache

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cds_service.coding import CodingEngine, build_coder
from cds_service.config import Settings
from cds_service.evidence.facts import collect_evidence
from cds_service.evidence.notes import note_text
from cds_service.evidence.values import annotation_texts
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.protocol.response_check import response_problems
from cds_service.services import SERVICES_BY_ID

from .strategies import any_resource, fhir_resources, json_values, plausible_acts

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
SERVICE_BY_KIND = {
    "orders": SERVICES_BY_ID["procedure-coding-order-sign"],
    "preview": SERVICES_BY_ID["procedure-coding-order-select"],
    "note": SERVICES_BY_ID["procedure-coding-note-sign"],
    "encounter": SERVICES_BY_ID["procedure-coding-encounter-discharge"],
}

@cache
def engine() -> CodingEngine:
    return build_coder(Settings())


def _strings(node: object):
    """Every string anywhere inside a JSON value (keys excluded)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@cache
def _known() -> tuple[set[str], set[str], list, set[str]]:
    snomed, cpt_procedures, patterns, all_codes = set(), set(), [], set()
    for pack in engine().book.packs:
        snomed |= set(pack.snomed_index)
        cpt_procedures |= {code for code, entry in pack.cpt_index.items() if entry.role == "procedure"}
        all_codes |= set(pack.cpt_index) | set(pack.bundled_guidance)
        if pack.not_performed_code:
            all_codes.add(pack.not_performed_code)
        patterns.extend(approach.recognise.text for approach in pack.approaches)
        patterns.extend(re.compile(p, re.IGNORECASE) for items in pack.note_reading.procedures.values() for p in items)
    return snomed, cpt_procedures, patterns, all_codes


def note_texts(data: ClinicalData) -> list[str]:
    """The decoded text of every DocumentReference of the call (the engine may read any of them)."""
    documents = data.of_type("DocumentReference") + [
        r for r in data.context_resources if r.get("resourceType") == "DocumentReference"]
    return [text.text for text in (note_text(d)[0] for d in documents) if text is not None]


def recognisable(resource: dict, notes: list[str]) -> bool:
    """A generous reading of what the packs recognise: any string in `code` that is a known SNOMED CT or
    procedure CPT code, or that matches a recognition pattern, or a note (the call's documents or the
    resource's own annotations) naming a procedure a pack reads in notes. The engine recognises less, never
    more."""
    snomed, cpt, patterns, _ = _known()
    for text in _strings(resource.get("code")):
        if text.strip() in snomed or text.strip() in cpt or any(p.search(text) for p in patterns):
            return True
    return any(p.search(text) for text in [*notes, *annotation_texts(resource)] for p in patterns)


def _key(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


def _with_id(resources: list, prefix: str) -> list:
    # Ids make subjects traceable; a few resources keep whatever the strategy gave them.
    return [
        {**r, "id": f"{prefix}{i}"} if isinstance(r, dict) and i % 4 else r for i, r in enumerate(resources)
    ]


@st.composite
def hook_inputs(draw):
    kind = draw(st.sampled_from(sorted(SERVICE_BY_KIND)))
    service = SERVICE_BY_KIND[kind]
    procedures = _with_id(draw(st.lists(
        st.one_of(plausible_acts("Procedure"), fhir_resources("Procedure"), any_resource), max_size=4)), "p")
    others = _with_id(draw(st.lists(any_resource, max_size=6)), "r")
    context: dict = {"userId": "Practitioner/u1", "patientId": "p1",
                     "encounterId": draw(st.sampled_from(["e1", "other"]))}
    context_resources: list = []
    if service.evidence == "orders":
        orders = _with_id(draw(st.lists(
            st.one_of(plausible_acts("ServiceRequest"), fhir_resources("ServiceRequest"), any_resource), max_size=3)),
            "o")
        context["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": r} for r in orders]}
        context_resources = [r for r in orders if isinstance(r, dict)]
        if kind == "preview":
            context["selections"] = [_key(r) for r in context_resources]
    elif service.evidence == "note":
        text = draw(st.sampled_from(["Thoracentesis, right, 900 mL, no complications.", "", "tap done"]))
        note = {
            "resourceType": "DocumentReference", "id": "note1", "status": "current",
            "content": [{"attachment": {"contentType": "text/plain",
                                        "data": base64.b64encode(text.encode()).decode()}}],
            "context": {"related": [{"reference": _key(r)} for r in procedures if isinstance(r, dict)]},
        }
        if draw(st.booleans()):
            # A hostile note: worse than the note-sign context schema lets through the API, on purpose.
            note = draw(fhir_resources("DocumentReference"))
        context["note"] = note
        context_resources = [note]
    results = {
        "procedures": KeyResult("procedures", Outcome.PROVIDED, list(procedures)),
        "others": KeyResult("others", Outcome.PROVIDED, list(others)),
    }
    if draw(st.booleans()):
        results["observations"] = KeyResult("observations", Outcome.UNAVAILABLE, problem="the FHIR server answered 500")
    call = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    return service, call, ClinicalData(results=results, context_resources=context_resources)


def _lines(card: dict) -> tuple[str | None, list[dict]]:
    extension = card.get("extension", {}).get("cpt-coding.suggestion", {})
    return extension.get("subject"), extension.get("lines") or []


@PROPERTY_SETTINGS
@given(hook_inputs())
def test_engine_answers_valid_cards_and_codes_only_what_it_recognises(inputs):
    service, call, data = inputs
    cards = engine().cards(service, call, data)

    assert response_problems({"cards": cards}) == []
    read = {_key(r): r for rtype in ("Procedure", "ServiceRequest") for r in data.of_type(rtype)}
    notes = note_texts(data)
    _, _, _, listed_codes = _known()
    for card in cards:
        subject, lines = _lines(card)
        if not lines:
            continue
        assert subject in read, f"lines for {subject}, which is not a resource that was read"
        assert recognisable(read[subject], notes), f"lines {lines} for {subject}, which no pack recognises"
        assert {line["code"] for line in lines} <= listed_codes, lines
        if service.preview:
            assert card["indicator"] == "info"


@PROPERTY_SETTINGS
@given(hook_inputs())
def test_unrecognised_procedures_never_get_a_line(inputs):
    service, call, data = inputs
    notes = note_texts(data)
    assume(not any(recognisable(r, notes) for rtype in ("Procedure", "ServiceRequest") for r in data.of_type(rtype)))
    for card in engine().cards(service, call, data):
        assert _lines(card)[1] == [], card


@PROPERTY_SETTINGS
@given(st.sampled_from(["orders", "note", "encounter"]), st.dictionaries(st.sampled_from(
    ["encounterId", "patientId", "draftOrders", "note", "selections"]), json_values), st.lists(any_resource))
def test_evidence_extraction_accepts_any_context_and_resources(kind, context, resources):
    data = ClinicalData(results={"any": KeyResult("any", Outcome.PROVIDED, list(resources))})
    evidence = collect_evidence(kind, context, data)
    assert all(isinstance(problem, str) for problem in evidence.problems)
    assert {act.key for act in evidence.focus} <= {act.key for act in evidence.acts}


def test_huge_note_and_code_text_are_handled_without_a_regex_blow_up():
    """Half a megabyte each of code text, Procedure.note and signed note: answered in linear time.

    The bound is loose (a busy 2-core machine); catastrophic backtracking would take minutes, not seconds.
    """
    huge = "pleural " * 64_000  # 512 KB
    procedure = {"resourceType": "Procedure", "id": "p1", "status": "completed",
                 "code": {"text": huge + "thoracentesis"}, "note": [{"text": huge}],
                 "encounter": {"reference": "Encounter/e1"}, "performedDateTime": "2024-03-01T10:00:00Z"}
    note = {"resourceType": "DocumentReference", "id": "n1", "status": "current",
            "content": [{"attachment": {"contentType": "text/plain",
                                        "data": base64.b64encode(huge[:400_000].encode()).decode()}}],
            "context": {"related": [{"reference": "Procedure/p1"}]}}
    data = ClinicalData(results={"procedures": KeyResult("procedures", Outcome.PROVIDED, [procedure, note])})
    service = SERVICE_BY_KIND["encounter"]
    call = {"hook": service.hook, "hookInstance": "h", "context": {"patientId": "p1", "encounterId": "e1"}}
    started = time.perf_counter()
    cards = engine().cards(service, call, data)
    assert time.perf_counter() - started < 3.0
    assert response_problems({"cards": cards}) == []
    assert any(_lines(card)[1] for card in cards), "the thoracentesis in the code text is still coded"


def test_note_whose_context_is_not_an_object():
    """The API's schema guarantees note.context is an object; the engine's public entry must not rely on it
    (found by these property tests, fixed in the evidence layer)."""
    service = SERVICE_BY_KIND["note"]
    note = {"resourceType": "DocumentReference", "id": "n1", "content": [{"attachment": {}}], "context": True}
    call = {"hook": service.hook, "hookInstance": "h", "context": {"patientId": "p1", "encounterId": "e1",
                                                                  "note": note}}
    cards = engine().cards(service, call, ClinicalData(results={}, context_resources=[note]))
    assert response_problems({"cards": cards}) == []
    assert all(not _lines(card)[1] for card in cards)


def test_echoed_resource_with_empty_values():
    """A Procedure with `basedOn: []`, `note: [{}]` and an empty bodySite text (malformed, but seen in EHR
    data): the update action of its card must not carry them back, since CDS Hooks forbids empty values
    (found by these property tests, fixed in card rendering)."""
    procedure = {"resourceType": "Procedure", "id": "p1", "status": "completed",
                 "code": {"coding": [{"system": SNOMED, "code": "91602002"}]},
                 "encounter": {"reference": "Encounter/e1"}, "basedOn": [], "note": [{}], "bodySite": [{"text": ""}]}
    service = SERVICE_BY_KIND["encounter"]
    data = ClinicalData(results={"procedures": KeyResult("procedures", Outcome.PROVIDED, [procedure])})
    cards = engine().cards(service, {"context": {"patientId": "p1", "encounterId": "e1"}}, data)
    assert response_problems({"cards": cards}) == []


def test_procedure_note_past_the_note_cap_is_reported_not_read():
    """A Procedure.note larger than a note attachment may be is skipped and named, like an oversized note."""
    too_big = "no complications. " * 40_000  # 720 KB: it would satisfy the complications gap if it were read
    procedure = {"resourceType": "Procedure", "id": "p1", "status": "completed",
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91602002"}]},
                 "note": [{"text": too_big}], "encounter": {"reference": "Encounter/e1"},
                 "performedDateTime": "2024-03-01T10:00:00Z"}
    data = ClinicalData(results={"procedures": KeyResult("procedures", Outcome.PROVIDED, [procedure])})
    evidence = collect_evidence("encounter", {"patientId": "p1", "encounterId": "e1"}, data)
    assert any("Procedure/p1: a note is too large" in problem for problem in evidence.problems)
    assert evidence.acts[0].texts == []
