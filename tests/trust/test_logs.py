"""Logs carry ids, hookInstance, reasons and timings: never the JWT, the access token, note text, names or
birth dates. Checked on a full production call (JWT, fhirAuthorization, a note, a named patient fetched
from the FHIR server) plus a refused token, in text and in JSON mode."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import uuid

import pytest
from pytest_httpserver import HTTPServer

from .kit import BASE, ISS, ORDER_SIGN, bearer, mint

NOTE_SIGN = "/cds-services/procedure-coding-note-sign"
ACCESS_TOKEN = "fhir-access-token-Zq81x"
NOTE_TEXT = "Ultrasound guided left thoracentesis, 1200 mL straw coloured fluid removed; Dr Quillfeather"
FAMILY, GIVEN, BIRTH_DATE = "Marmaduke-Oyelaran", "Wilhelmina", "1931-02-17"

PATIENT = {
    "resourceType": "Patient", "id": "p1", "name": [{"family": FAMILY, "given": [GIVEN]}], "birthDate": BIRTH_DATE,
}


def note_sign_call(fhir_server: str) -> dict:
    return {
        "hook": "org.procedure-coding.note-sign",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": fhir_server,
        "fhirAuthorization": {
            "access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read",
            "subject": "cds-service",
        },
        "context": {
            "userId": "Practitioner/pr1", "patientId": "p1", "encounterId": "e1",
            "note": {
                "resourceType": "DocumentReference", "id": "doc1", "status": "current",
                "subject": {"reference": "Patient/p1", "display": f"{GIVEN} {FAMILY}"},
                "content": [{"attachment": {"contentType": "text/plain",
                                            "data": base64.b64encode(NOTE_TEXT.encode()).decode()}}],
            },
        },
        "prefetch": {"patient": PATIENT},
    }


def _fhir_server(httpserver: HTTPServer) -> str:
    httpserver.expect_request("/fhir/Patient/p1").respond_with_json(PATIENT)
    httpserver.expect_request("/fhir/Encounter/e1").respond_with_data("boom", status=500)
    httpserver.expect_request(re.compile("/fhir/.*")).respond_with_json(
        {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": PATIENT}]}
    )
    return httpserver.url_for("/fhir")


@pytest.mark.parametrize("json_logs", [False, True], ids=["text", "json"])
def test_no_secret_or_phi_in_logs(make_app, es384_key, httpserver, json_logs):
    fhir = _fhir_server(httpserver)
    entry = {"iss": ISS, "jwks": {"keys": [es384_key.public_jwk]}, "fhirServer": [fhir]}
    app = make_app([entry], json_logs=json_logs)
    captured = io.StringIO()
    handler = logging.getLogger("cds_service").handlers[0]
    handler.setStream(captured)
    client = app.test_client()

    token = mint(es384_key, aud=BASE + NOTE_SIGN)
    call = note_sign_call(fhir)
    response = client.post(NOTE_SIGN, json=call, headers=bearer(token))
    assert response.status_code in (200, 412), response.get_data(as_text=True)
    replayed = client.post(NOTE_SIGN, json=call, headers=bearer(token))  # refused: jti already used
    assert replayed.status_code == 401
    wrong_aud = mint(es384_key, aud=BASE + ORDER_SIGN)
    assert client.post(NOTE_SIGN, json=call, headers=bearer(wrong_aud)).status_code == 401
    assert client.post(NOTE_SIGN, json=call, headers={"Authorization": "Bearer " + ACCESS_TOKEN}).status_code == 401

    text = captured.getvalue()
    # The capture works and holds what operators need.
    assert call["hookInstance"] in text and "jti already used" in text and "aud is not the URL called" in text
    secrets = {
        "JWT": token, "JWT signature": token.rsplit(".", 1)[1], "JWT payload": token.split(".")[1],
        "other JWT": wrong_aud.split(".")[1], "access token": ACCESS_TOKEN, "note text": NOTE_TEXT[:40],
        "note text (base64)": call["context"]["note"]["content"][0]["attachment"]["data"][:40],
        "family name": FAMILY, "given name": GIVEN, "birth date": BIRTH_DATE, "clinician in note": "Quillfeather",
    }
    leaked = [name for name, value in secrets.items() if value in text]
    assert leaked == [], f"leaked into the logs: {leaked}"
    if json_logs:
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines and all({"time", "level", "logger", "message", "pid"} <= line.keys() for line in lines)


def test_fields_outside_the_allowlist_are_dropped(make_app):
    make_app(None, profile="development", json_logs=True)
    captured = io.StringIO()
    logging.getLogger("cds_service").handlers[0].setStream(captured)
    logging.getLogger("cds_service.test").warning("probe", extra={"token": "secret-jwt", "iss": "https://i.example"})
    line = json.loads(captured.getvalue())
    assert line["iss"] == "https://i.example" and "token" not in line and "secret-jwt" not in captured.getvalue()
