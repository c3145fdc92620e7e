"""Entry point of the coding engine: evidence -> rules -> cards. Built once at start-up.

Rule packs and payer profiles are loaded, validated and compiled here, once; a broken pack raises
PackError (naming the file and the field) and the service does not start.
"""

from __future__ import annotations

import logging

from .config import Settings
from .evidence.facts import Evidence, collect_evidence
from .fhir.access import ClinicalData
from .rendering.cards import render
from .rules.engine import evaluate
from .rules.model import Finding
from .rules.packs import RuleBook, load_rule_book
from .rules.worklist import started_within, still_open
from .services import ServiceDefinition

log = logging.getLogger(__name__)


class CodingEngine:
    def __init__(self, settings: Settings, book: RuleBook):
        self.settings = settings
        self.book = book
        first = book.packs[0].card_source
        self._fallback_source = {"label": first.label, "url": first.url}

    def findings(self, service: ServiceDefinition, call: dict, data: ClinicalData) -> tuple[list[Finding], Evidence]:
        """The engine's decisions for the call's coded subjects, with the evidence they were made from."""
        evidence = collect_evidence(service.evidence, call.get("context") or {}, data)
        findings, _ = evaluate(self.book, evidence)
        return findings, evidence

    def cards(self, service: ServiceDefinition, call: dict, data: ClinicalData) -> list[dict]:
        findings, evidence = self.findings(service, call, data)
        if service.lookback_days is not None:
            findings = started_within(findings, service.lookback_days)
        if service.only_open:
            # A worklist shows only what still needs work: nothing at all when every subject is in order (not
            # even a card about unreadable data, which would show on every chart opened).
            findings = [f for f in findings if still_open(f)]
            if not findings:
                return []
        return render(findings, evidence.problems, service.preview, self._fallback_source)


def build_coder(settings: Settings) -> CodingEngine:
    book = load_rule_book(settings.rule_packs_dir)
    log.info("rule packs loaded", extra={"count": len(book.packs), "path": str(settings.rule_packs_dir)})
    return CodingEngine(settings, book)
