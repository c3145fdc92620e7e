"""Prometheus metrics: what the service counts and times, and the `/metrics` endpoint that exposes them.

Under gunicorn every worker is its own process, so prometheus_client runs in multiprocess mode: each worker
writes its values to files in PROMETHEUS_MULTIPROC_DIR (set up by `gunicorn_conf.py` before any worker
imports this module) and a scrape adds up the files of every live and dead worker. Without that directory
(tests, `cds-service` commands) the values stay in the process.

Every label has a bounded set of values: routes are the app's URL patterns, service ids come from the service
list (an unknown id is counted as ""), rule and gap ids from the rule packs, statuses are HTTP status codes,
reasons and outcomes are fixed texts. No label ever holds a hookInstance, a patient, a token or a URL.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .config import Settings
from .protocol.errors import outcome_response
from .services import SERVICES_BY_ID
from .store.records import CallRecord

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
# Hook calls take milliseconds with a complete prefetch and up to the FHIR budget (2 s) without one.
_LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_FETCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)
_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)

REQUESTS = Counter("cds_http_requests_total", "HTTP requests answered, by route, service and status",
                   ["route", "service", "status"])
LATENCY = Histogram("cds_http_request_duration_seconds", "Time to answer an HTTP request, by route, service and status",
                    ["route", "service", "status"], buckets=_LATENCY_BUCKETS)
CARDS = Counter("cds_cards_total", "Cards answered, by service and rule", ["service", "rule"])
LINES = Counter("cds_card_lines_total", "Suggested claim lines on cards, by rule", ["rule"])
GAPS = Counter("cds_documentation_gaps_total", "Documentation gaps named on cards, by gap id", ["gap"])
FHIR_FETCHES = Counter("cds_fhir_fetches_total", "Reads from the FHIR server, by outcome", ["outcome"])
FHIR_LATENCY = Histogram("cds_fhir_fetch_duration_seconds", "Time of one FHIR read, by outcome", ["outcome"],
                         buckets=_FETCH_BUCKETS)
JWT_FAILURES = Counter("cds_jwt_failures_total", "Requests refused by authentication, by reason", ["reason"])
# livesum: the queues of live workers added up; a dead worker's queue is gone with it.
AUDIT_QUEUE = Gauge("cds_audit_queue_depth", "Audit records waiting for the writer", multiprocess_mode="livesum")
AUDIT_WRITE = Histogram("cds_audit_write_seconds", "Time to commit one batch of audit records",
                        buckets=_WRITE_BUCKETS)
AUDIT_RECORDS = Counter("cds_audit_records_total", "Audit records by result (written, failed, dropped)", ["result"])
FEEDBACK = Counter("cds_feedback_items_total", "Feedback items by outcome and result (committed, failed)",
                   ["outcome", "result"])


NO_RULE = "(no rule)"


def count_cards(record: CallRecord) -> None:
    """Cards, suggested lines and documentation gaps of one answered call (rule and gap ids come from the
    rule packs through our own rendering, never from the request: a bounded set)."""
    for card in record.cards:
        rule = card.rule or NO_RULE
        CARDS.labels(record.service_id, rule).inc()
        if card.lines:
            LINES.labels(rule).inc(len(card.lines))
        for gap in card.documentation_gaps:
            GAPS.labels(gap).inc()


def register_request_metrics(app: Flask) -> None:
    """Count and time every request by route pattern (never the path itself), service id and status.

    Registered before authentication, so refused requests are timed too.
    """

    @app.before_request
    def _start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule
            route = rule.rule if rule is not None else "(unmatched)"
            service_id = (request.view_args or {}).get("service_id")
            service = service_id if service_id in SERVICES_BY_ID else ""
            status = str(response.status_code)
            REQUESTS.labels(route, service, status).inc()
            LATENCY.labels(route, service, status).observe(time.perf_counter() - started)
        return response


def jwt_reason(reason: str) -> str:
    # AuthFailure reasons are fixed texts, some with a detail after ':' or '(' (an algorithm, an exception
    # text); the part before it is one of a fixed set.
    return reason.split(":", 1)[0].split("(", 1)[0].strip() or OTHER


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files in multiprocess mode, this process's values otherwise."""
    folder = multiprocess_dir()
    if folder is None:
        from prometheus_client import REGISTRY

        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=folder)
    return collected


def exposition() -> Response:
    return Response(generate_latest(registry()), mimetype=CONTENT_TYPE_LATEST)


def register_endpoint_if_configured(app: Flask, settings: Settings) -> None:
    """`/metrics` on the app's port, unless CDS_METRICS_PORT moves it to the gunicorn master's own port.

    In production it is served here only with a token: rule and gap counts are not PHI, but an open
    endpoint on the port the EHR calls is more than that port needs to offer.
    """
    if settings.metrics_port:
        return
    if settings.production and not settings.metrics_token:
        log.warning("/metrics is off: in production set CDS_METRICS_TOKEN or CDS_METRICS_PORT to serve it",
                    extra={"profile": settings.profile})
        return
    register_metrics_endpoint(app, settings.metrics_token)


def register_metrics_endpoint(app: Flask, token: str) -> None:
    """`/metrics` on the service's own port: open, or only with `Authorization: Bearer <token>`.

    Not under /cds-services, so the JWT check never applies: Prometheus has no EHR token.
    """
    expected = f"Bearer {token}".encode() if token else b""

    @app.get("/metrics")
    def metrics():
        if expected and not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            response = outcome_response("/metrics needs the metrics token (CDS_METRICS_TOKEN)", 401)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return exposition()
