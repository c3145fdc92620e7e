"""A browser page for trying the services on realistic procedure scenarios and seeing their cards."""

from __future__ import annotations

from flask import Flask

from ..config import REPO_ROOT
from .routes import bp

DEFAULT_SCENARIOS = REPO_ROOT / "fhir_fixtures" / "requests"


def register_playground(app: Flask) -> None:
    """Serve /playground; tests may point PLAYGROUND_SCENARIOS at another folder of hook requests."""
    app.config.setdefault("PLAYGROUND_SCENARIOS", DEFAULT_SCENARIOS)
    app.register_blueprint(bp)
