"""Entry point of the coding engine: evidence -> rules -> cards. Built once at start-up.

Rule packs and payer profiles are loaded, validated and compiled here, once; a broken pack raises
PackError (naming the file and the field) and the service does not start.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from .config import Settings
from .evidence.facts import Evidence, collect_evidence, read_act, related_acts
from .fhir.access import ClinicalData, fill_template
from .rendering.cards import render
from .rules.decide import recognise
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

    def history_query(self, call: dict, data: ClinicalData) -> str | None:
        """The search for the patient's Procedures of earlier encounters, when a coded act of a course
        (day-sequence codes) has no earlier day among the data read and the reads were scoped to the encounter,
        so earlier days in other encounters would not be seen. None when nothing needs it."""
        context = call.get("context") or {}
        if not isinstance(context.get("encounterId"), str):
            return None  # the reads fell back to the patient's whole record
        note = context.get("note")
        coded = set(related_acts(note)) if isinstance(note, dict) else None
        encounter = f"Encounter/{context['encounterId']}"
        # (pack, approach) -> [(day, coded by this call)] of the course acts read
        course: dict[tuple[str, str], list[tuple[date, bool]]] = {}
        windows: dict[tuple[str, str], int] = {}
        for resource in [*data.of_type("Procedure"), *data.of_type("ServiceRequest")]:
            act = read_act(data, resource)
            recognised = recognise(self.book, act)
            if recognised is None or recognised.approach.course_days is None or not act.day:
                continue
            try:
                day = date.fromisoformat(act.day)
            except ValueError:
                continue
            key = (recognised.pack.id, recognised.approach.id)
            is_coded = act.key in coded if coded is not None else act.encounter in (None, encounter)
            course.setdefault(key, []).append((day, is_coded))
            windows[key] = recognised.approach.course_days
        since = None
        for key, days in course.items():
            window = timedelta(days=windows[key])
            for day, is_coded in days:
                if not is_coded or any(day - window <= other < day for other, _ in days):
                    continue  # not coded here, or an earlier day of its course is already read
                since = day - window if since is None else min(since, day - window)
        if since is None:
            return None
        query = fill_template("Procedure?patient={{context.patientId}}", context)
        return f"{query}&date=ge{since.isoformat()}" if query else None


def build_coder(settings: Settings) -> CodingEngine:
    book = load_rule_book(settings.rule_packs_dir)
    book.reader  # noqa: B018  (the clinical text pipeline: built here, once per worker, not on the first call)
    log.info("rule packs loaded", extra={"count": len(book.packs), "path": str(settings.rule_packs_dir)})
    return CodingEngine(settings, book)
