"""`POST /cds-services/{id}/feedback` (CDS Hooks 2.0): what clinicians did with the cards.

The answer is 200 only once the feedback is committed; a store that cannot commit answers 503 so the
client may retry, and a retry cannot double-count because stored feedback is idempotent.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from . import metrics
from .protocol.errors import ServiceError
from .protocol.routes import service_or_404
from .protocol.validation import json_body, validate
from .store import Store, StoreUnavailable
from .store.records import FeedbackItem, InvalidFeedback, feedback_items

log = logging.getLogger(__name__)
bp = Blueprint("feedback", __name__)


def count_feedback(items: list[FeedbackItem], result: str) -> None:
    for item in items:
        metrics.FEEDBACK.labels(item.outcome, result).inc()


@bp.post("/cds-services/<service_id>/feedback")
def receive_feedback(service_id: str):
    service = service_or_404(service_id)
    settings = current_app.config["SETTINGS"]
    body = json_body(request, settings.max_body_bytes, settings.max_json_depth)
    validate(body, "feedback.schema.json")
    try:
        items = feedback_items(body)
    except InvalidFeedback as exc:
        raise ServiceError(400, f"{exc.field}: {exc}", exc.field) from None
    store: Store = current_app.extensions["cds_store"]
    try:
        stored = store.record_feedback(service.id, items)
    except StoreUnavailable as exc:
        count_feedback(items, "failed")
        cause = exc.__cause__
        log.error(
            "feedback not stored",
            extra={"service": service.id, "error": type(cause or exc).__name__, "count": len(items)},
        )
        raise ServiceError(503, "feedback could not be stored; nothing was kept, retry later") from None
    count_feedback(items, "committed")  # duplicates included: the store does not say which items they were
    log.info("feedback stored", extra={"service": service.id, "count": stored})
    # `duplicates`: items already stored by an earlier post (or repeated in this one), kept once.
    return jsonify({"received": len(items), "duplicates": len(items) - stored})
