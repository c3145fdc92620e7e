"""Hot-path shortcuts give the answers of the slow path (issue 14: faster, every behaviour kept)."""

from __future__ import annotations

import json
from pathlib import Path

from cds_service.coding import build_coder
from cds_service.config import Settings
from cds_service.evidence.facts import act_facts, collect_evidence
from cds_service.fhir.access import ClinicalData, KeyResult, Outcome
from cds_service.fhir.client import entry_resources
from cds_service.pipeline import context_resources
from cds_service.rules import decide
from cds_service.rules.packs import load_rule_book
from cds_service.services import SERVICES

REQUESTS = Path(__file__).resolve().parents[2] / "fhir_fixtures" / "requests"


def fixture_acts():
    for path in sorted(REQUESTS.glob("*.json")):
        call = json.loads(path.read_text(encoding="utf-8"))
        bundles = [*(call.get("prefetch") or {}).values(), call.get("context", {}).get("draftOrders")]
        for bundle in bundles:
            if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
                for entry in bundle.get("entry") or []:
                    resource = entry.get("resource") if isinstance(entry, dict) else None
                    if isinstance(resource, dict) and resource.get("resourceType") in ("Procedure", "ServiceRequest"):
                        yield act_facts(resource)


def test_cached_recognition_equals_recognition_for_every_fixture_act():
    book = load_rule_book(Settings().rule_packs_dir)
    acts = list(fixture_acts())
    assert len(acts) > 20
    for _ in range(2):  # the second round answers from the cache
        for act in acts:
            assert decide._recognise_by_code(book, act) == decide._recognise_by_code_uncached(book, act)


def test_a_cached_answer_is_never_given_for_another_rule_book():
    book = load_rule_book(Settings().rule_packs_dir)
    act = next(a for a in fixture_acts() if decide._recognise_by_code_uncached(book, a) is not None)
    other = load_rule_book(Settings().rule_packs_dir)
    # An entry left by a book that lived at this id before: it must not be taken for `book`'s answer.
    decide._BY_CODE_CACHE[(id(book), act.codings, act.code_text)] = (other, None)
    assert decide._recognise_by_code(book, act) == decide._recognise_by_code_uncached(book, act) is not None


def test_acts_read_before_the_evidence_are_not_built_twice_and_change_nothing():
    """coding.history_query looks at the acts before the evidence is collected; collect_evidence takes those
    acts instead of building them again, and the evidence is what it would be without the look."""
    coder = build_coder(Settings())
    services = {s.hook: s for s in SERVICES}
    checked = read_first = 0
    for path in sorted(REQUESTS.glob("*.json")):
        call = json.loads(path.read_text(encoding="utf-8"))
        service = services.get(call.get("hook"))
        if service is None or "encounterId" not in call["context"]:
            continue
        results = {key: KeyResult(key, Outcome.PROVIDED, entry_resources(value) if value.get("resourceType") ==
                                  "Bundle" else [value])
                   for key, value in (call.get("prefetch") or {}).items() if isinstance(value, dict)}

        def data(results=results, service=service, call=call) -> ClinicalData:
            return ClinicalData(results=dict(results), context_resources=context_resources(service, call["context"]))

        plain = collect_evidence(service.evidence, call["context"], data())
        looked_first = data()
        coder.history_query(call, looked_first)
        taken = len(looked_first._acts_read)
        read_first += taken
        assert collect_evidence(service.evidence, call["context"], looked_first) == plain, path.name
        assert len(looked_first._acts_read) < taken or taken == 0  # the evidence took the acts already read
        checked += 1
    assert checked > 10 and read_first > 10
