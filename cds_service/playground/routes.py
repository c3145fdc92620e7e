"""The playground page, its static files and the scenario endpoints (development profile only).

Everything the page needs is served from here: no CDN, no external fonts or images. The Content
Security Policy pins that down in the browser too (`'self'` only, no inline script), so a card that
carries hostile Markdown or an external icon URL cannot make the page load or run anything else.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template

from ..protocol.errors import ServiceError
from ..services import SERVICES
from .scenarios import list_scenarios, load_scenario

bp = Blueprint(
    "playground",
    __name__,
    url_prefix="/playground",
    static_folder="static",
    template_folder="templates",
)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


def scenarios_folder() -> Path:
    return Path(current_app.config["PLAYGROUND_SCENARIOS"])


@bp.after_request
def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("")
@bp.get("/")
def page():
    return render_template("playground.html", services=SERVICES)


@bp.get("/scenarios")
def scenarios():
    return jsonify({"scenarios": [scenario.as_json() for scenario in list_scenarios(scenarios_folder())]})


@bp.get("/scenarios/<name>")
def scenario(name: str):
    request = load_scenario(scenarios_folder(), name)
    if request is None:
        raise ServiceError(404, f"no playground scenario named '{name}'")
    return jsonify(request)
