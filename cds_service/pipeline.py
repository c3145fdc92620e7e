"""The path of one hook call after the HTTP layer: FHIR access -> coding -> response -> audit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from . import metrics
from .config import Settings
from .fhir.access import ClinicalData, FhirAccess
from .fhir.client import entry_resources, new_session
from .services import ServiceDefinition
from .store.records import CallRecord, call_record


class Coder(Protocol):
    def cards(self, service: ServiceDefinition, call: dict, data: ClinicalData) -> list[dict]: ...

    def history_query(self, call: dict, data: ClinicalData) -> str | None: ...


class AuditSink(Protocol):
    def submit(self, record: CallRecord) -> None: ...


def context_resources(service: ServiceDefinition, context: dict) -> list[dict]:
    """FHIR resources carried in the hook context itself: draft orders, or the note being signed."""
    if service.evidence == "orders":
        return entry_resources(context.get("draftOrders") or {})
    if service.evidence == "note" and isinstance(context.get("note"), dict):
        return [context["note"]]
    return []


class Pipeline:
    def __init__(self, settings: Settings, coder: Coder, audit: AuditSink | None = None):
        self.settings = settings
        self.coder = coder
        self.audit = audit
        self.executor = ThreadPoolExecutor(max_workers=settings.fhir_max_workers, thread_name_prefix="fhir")
        self.access = FhirAccess(settings, new_session(settings.fhir_max_workers * 2), self.executor)

    def answer(self, service: ServiceDefinition, call: dict) -> dict:
        data = self.access.resolve(service, call, context_resources(service, call["context"]))
        history = self.coder.history_query(call, data)
        if history is not None:
            self.access.read_history(call, data, history)
        cards = self.coder.cards(service, call, data)
        # The audit record (ids and codes only) also feeds the card metrics: one read of the cards for both.
        record = call_record(service.id, call, cards, datetime.now(UTC))
        metrics.count_cards(record)
        if self.audit is not None:
            self.audit.submit(record)
        return {"cards": cards}
