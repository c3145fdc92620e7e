"""CORS for browser clients such as the CDS Hooks sandbox (every call there is cross-origin)."""

from __future__ import annotations

from flask import Flask, request

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"


def register_cors(app: Flask) -> None:
    @app.before_request
    def _preflight():
        # Answer preflights before authentication: browsers never send credentials on them.
        if request.method == "OPTIONS":
            return app.response_class(status=204)
        return None

    @app.after_request
    def _headers(response):
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        # Chrome's Private Network Access: a public https page (the sandbox) calling a service on localhost.
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            response.headers["Access-Control-Allow-Private-Network"] = "true"
        response.headers.add("Vary", "Origin")
        return response
