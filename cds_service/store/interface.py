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

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Commit the items in one transaction; returns how many were new (the rest were already stored)."""

    def report(self, since: datetime | None = None) -> list[RuleReport]:
        """Per rule: cards issued since `since`, and what people did with them."""

    def feedback_log(self, since: datetime | None = None) -> list[StoredFeedback]:
        """Stored feedback received since `since`, oldest first."""

    def close(self) -> None: ...
