"""The floor of our stack: a bare Flask app that parses the hook request body and answers fixed cards.

It runs under the same gunicorn settings as the service (``cds_service/gunicorn_conf.py``, only the app
module differs), so the difference between the two is what our own code costs. The cards it answers are
the ones the service answered for the same request in the same benchmark run (a JSON file named by
``BENCH_BASELINE_CARDS``: service id -> card list), so both serialise responses of the same size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response, jsonify, request


def _outcome(message: str, status: int) -> Response:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid",
                                                          "diagnostics": message}]}
    return Response(json.dumps(body), status=status, mimetype="application/fhir+json")


def create_baseline_app(cards_by_service: dict[str, list[dict]]) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # the service's JSON settings: same bytes for the same cards
    app.json.compact = True

    @app.post("/cds-services/<service_id>")
    def call_service(service_id: str):
        try:
            call = json.loads(request.get_data())
        except ValueError:
            return _outcome("request body is not valid JSON", 400)
        if not isinstance(call, dict) or not isinstance(call.get("context"), dict):
            return _outcome("not a hook request", 400)
        if service_id not in cards_by_service:
            return _outcome(f"no CDS service with id '{service_id}'", 404)
        return jsonify({"cards": cards_by_service[service_id]})

    @app.get("/healthz")
    def health():
        return jsonify({"status": "ok"})

    return app


def _cards_from_env() -> dict[str, list[dict]]:
    name = os.environ.get("BENCH_BASELINE_CARDS")
    if not name:
        return {}
    return json.loads(Path(name).read_text(encoding="utf-8"))


app = create_baseline_app(_cards_from_env())
