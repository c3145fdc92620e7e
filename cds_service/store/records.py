"""What the store keeps, as plain records, and the pure functions that build them from cards and feedback.

Only identifiers and codes leave a card for the audit trail: the subject's resource reference, the rule id,
the suggested CPT lines, bundled codes and documentation-gap ids. Summary and detail texts, note text,
names and tokens never reach these records; values that do not look like identifiers are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

SUGGESTION_EXTENSION = "cpt-coding.suggestion"

# A FHIR relative reference `Type/id` (R4 id: 1-64 of [A-Za-z0-9-.]); anything else is not a resource id.
_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
# Codes, modifiers, gap ids and rule ids: short tokens, never sentences.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}")
_MAX_LINES = 50
_MAX_UNITS = 10_000


@dataclass(frozen=True)
class SuggestedLine:
    code: str
    modifiers: tuple[str, ...] = ()
    units: int = 1


@dataclass(frozen=True)
class CardRecord:
    uuid: str
    subject: str | None
    rule: str | None
    lines: tuple[SuggestedLine, ...] = ()
    not_separately_billable: tuple[str, ...] = ()
    documentation_gaps: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallRecord:
    hook_instance: str
    service_id: str
    hook: str
    called_at: datetime
    # Every card of the answer counts here; only cards with a uuid can receive feedback, so only they
    # are kept in `cards`.
    card_count: int
    cards: tuple[CardRecord, ...] = ()


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    reason_system: str = ""
    reason_code: str = ""
    reason_display: str | None = None
    # The comment is free text a clinician typed and may name the patient: only its presence is kept.
    has_comment: bool = False


@dataclass(frozen=True)
class StoredFeedback:
    service_id: str
    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...]
    reason_system: str
    reason_code: str
    has_comment: bool


@dataclass(frozen=True)
class OverrideReasonCount:
    system: str
    code: str
    display: str | None
    count: int
    with_comment: int


@dataclass(frozen=True)
class RuleReport:
    rule: str
    issued: int
    accepted: int
    overridden: int
    top_override_reasons: tuple[OverrideReasonCount, ...] = field(default_factory=tuple)

    @property
    def acceptance_rate(self) -> float | None:
        """Share of issued cards that someone accepted (ignored cards are never reported back)."""
        return self.accepted / self.issued if self.issued else None


def utc_instant(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("instants must carry a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+02:00 is a valid RFC 3339 date-time before year 1 in UTC
        raise ValueError("the instant is outside the years 1 to 9999 in UTC") from None


def _token(value: object) -> str | None:
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def _tokens(values: object) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(token for token in map(_token, values) if token is not None)


def _line(value: object) -> SuggestedLine | None:
    if not isinstance(value, Mapping):
        return None
    code = _token(value.get("code"))
    if code is None:
        return None
    units = value.get("units", 1)
    if not isinstance(units, int) or isinstance(units, bool) or not 0 < units <= _MAX_UNITS:
        units = 1
    return SuggestedLine(code, _tokens(value.get("modifiers")), units)


def card_record(card: Mapping) -> CardRecord | None:
    """The audit record of one card, or None when the card has no uuid (no feedback can name it)."""
    uuid = card.get("uuid")
    if not isinstance(uuid, str) or not uuid or len(uuid) > 200:
        return None
    extension = card.get("extension")
    suggestion = extension.get(SUGGESTION_EXTENSION) if isinstance(extension, Mapping) else None
    if not isinstance(suggestion, Mapping):
        return CardRecord(uuid=uuid, subject=None, rule=None)
    subject = suggestion.get("subject")
    lines = suggestion.get("lines")
    return CardRecord(
        uuid=uuid,
        subject=subject if isinstance(subject, str) and _REFERENCE.fullmatch(subject) else None,
        rule=_token(suggestion.get("rule")),
        lines=tuple(line for line in map(_line, lines[:_MAX_LINES]) if line) if isinstance(lines, list) else (),
        not_separately_billable=_tokens(suggestion.get("notSeparatelyBillable")),
        documentation_gaps=_tokens(suggestion.get("documentationGaps")),
    )


def call_record(service_id: str, call: Mapping, cards: Iterable[Mapping], called_at: datetime) -> CallRecord:
    cards = list(cards)
    records = tuple(record for record in map(card_record, cards) if record is not None)
    return CallRecord(
        hook_instance=str(call["hookInstance"]),
        service_id=service_id,
        hook=str(call["hook"]),
        called_at=utc_instant(called_at),
        card_count=len(cards),
        cards=records,
    )


class InvalidFeedback(ValueError):
    """A feedback entry that passed the schema but cannot be stored as given; `field` names where."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def feedback_items(body: Mapping) -> list[FeedbackItem]:
    """Feedback records from a body that already passed feedback.schema.json."""
    items = []
    for number, entry in enumerate(body["feedback"]):
        try:
            instant = utc_instant(datetime.fromisoformat(entry["outcomeTimestamp"].replace("z", "Z")))
        except ValueError as exc:
            raise InvalidFeedback(f"{exc}", f"feedback[{number}].outcomeTimestamp") from None
        override = entry.get("overrideReason") or {}
        reason = override.get("reason") or {}
        comment = override.get("userComment")
        items.append(
            FeedbackItem(
                card=entry["card"],
                outcome=entry["outcome"],
                outcome_timestamp=instant,
                # Sorted: the same suggestions in another order are the same feedback.
                accepted_suggestions=tuple(sorted({s["id"] for s in entry.get("acceptedSuggestions") or ()})),
                reason_system=reason.get("system", ""),
                reason_code=reason.get("code", ""),
                reason_display=reason.get("display") or None,
                has_comment=bool(isinstance(comment, str) and comment.strip()),
            )
        )
    return items
