"""Application factory: builds the Flask app from Settings; nothing happens at import time."""

from __future__ import annotations

import logging

from flask import Flask

from .auth.guard import register_auth
from .coding import build_coder
from .config import Settings
from .feedback import bp as feedback_bp
from .logs import configure_logging
from .metrics import register_endpoint_if_configured, register_request_metrics
from .pipeline import Pipeline
from .playground import register_playground
from .protocol.cors import register_cors
from .protocol.errors import register_error_handlers
from .protocol.jsonio import OrjsonProvider
from .protocol.routes import bp as cds_bp
from .store import open_store
from .store.audit import AuditWriter

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.json_logs)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json = OrjsonProvider(app)

    register_error_handlers(app)
    register_request_metrics(app)  # first: the time of a request includes authentication and CORS
    register_cors(app)  # before authentication: preflights carry no credentials
    # The store is opened (and its schema migrated) once per worker, before the first request: it keeps the
    # audit trail and feedback, and remembers token ids (jti) for authentication.
    store = open_store(settings)
    app.extensions["cds_store"] = store
    register_auth(app, settings, replay=store)  # raises TrustConfigError when production has no trusted issuers
    # werkzeug's own cap (a 413 OperationOutcome) for any code reading the body through Flask. One byte over
    # the service's cap: werkzeug silently truncates a chunked body at this limit, and json_body reads one
    # byte past max_body_bytes to tell "too large" (413) from "exactly at the cap".
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.register_blueprint(cds_bp)
    app.register_blueprint(feedback_bp)
    if settings.playground_enabled:  # on in development, off in production unless CDS_PLAYGROUND says so
        register_playground(app)
    register_endpoint_if_configured(app, settings)

    # Hook calls are audited off the request path by one writer thread per worker (store/audit.py).
    writer = AuditWriter(store, batch_window=settings.audit_batch_ms / 1000, max_queue=settings.audit_queue_size,
                         submit_wait=settings.audit_submit_wait)
    app.extensions["cds_audit"] = writer
    app.extensions["cds_pipeline"] = Pipeline(settings, build_coder(settings), audit=writer)
    log.info("service ready", extra={"profile": settings.profile})
    return app
