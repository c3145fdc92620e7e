"""The pipeline's audit sink: turns an answered hook call into a CallRecord and stores it.

A failure to store does not fail the call: the cards are advisory and the clinician is waiting, so the
answer goes out and the failure is logged (ids and the error type only) for operators to act on. Feedback
on those cards is still stored; the report lists it under cards missing from the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from ..services import ServiceDefinition
from .interface import Store, StoreUnavailable
from .records import call_record

log = logging.getLogger(__name__)


class StoreAuditSink:
    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.clock = clock

    def record_call(self, service: ServiceDefinition, call: dict, cards: list[dict]) -> None:
        try:
            self.store.record_call(call_record(service.id, call, cards, self.clock()))
        except StoreUnavailable as exc:
            log.error(
                "audit record not stored",
                extra={"service": service.id, "hookInstance": call.get("hookInstance"), "error": _kind(exc)},
            )


def _kind(exc: BaseException) -> str:
    # The exception text may quote SQL parameters; the type of the underlying error is enough to act on.
    cause = exc.__cause__
    return type(cause).__name__ if cause is not None else type(exc).__name__
