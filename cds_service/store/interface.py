"""The one interface the service uses to keep its audit trail and feedback, whatever the backend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from .records import CallRecord, FeedbackItem, RuleReport, StoredFeedback


class StoreUnavailable(Exception):
    """The backend could not complete the operation; nothing was committed by it. Safe to retry."""


class Store(Protocol):
    backend: str

    def record_call(self, call: CallRecord) -> None:
        """Keep a hook call and its cards (a call or card seen before is kept once)."""

    def record_calls(self, calls: Sequence[CallRecord]) -> None:
        """Keep several hook calls in one transaction (all or none)."""

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Commit the items in one transaction; returns how many were new (the rest were already stored)."""

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """Remember a token's (iss, jti) until expires_at (epoch seconds); False when it is already remembered.

        One atomic insert decides across every worker and instance sharing the database.
        """

    def report(self, since: datetime | None = None) -> list[RuleReport]:
        """Per rule: cards issued since `since`, and what people did with them."""

    def feedback_log(self, since: datetime | None = None) -> list[StoredFeedback]:
        """Stored feedback received since `since`, oldest first."""

    def ping(self) -> None:
        """One round trip to the database; raises StoreUnavailable when it does not answer (readiness)."""

    def close(self) -> None: ...
