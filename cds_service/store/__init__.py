"""Audit trail and feedback storage: SQLite embedded by default, PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

from ..config import Settings
from .interface import Store, StoreUnavailable
from .records import CallRecord, CardRecord, FeedbackItem, RuleReport, StoredFeedback

__all__ = [
    "CallRecord", "CardRecord", "FeedbackItem", "RuleReport", "Store", "StoreUnavailable", "StoredFeedback",
    "open_store",
]

_POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def open_store(settings: Settings) -> Store:
    """Open the configured store and bring its schema up to date (safe when several workers start at once)."""
    url = settings.database_url.strip()
    if url:
        if not url.startswith(_POSTGRES_SCHEMES):
            # Never echo the URL: it may carry a password.
            raise ValueError("DATABASE_URL must be a postgresql:// URL")
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
