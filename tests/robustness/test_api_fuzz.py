"""API fuzzing with schemathesis against the running service (gunicorn on loopback).

Positive and negative cases are generated from the published OpenAPI document. Checks: no 5xx, status codes
and content types as documented, bodies as documented, and every error an OperationOutcome. Checks that do not
fit a CDS service are left out: positive_data_acceptance (a body valid for one service's schema is refused by
another service whose hook differs, by design), and the stateful/resource checks (the API creates nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from cds_service.services import SERVICES, SERVICES_BY_ID

pytestmark = pytest.mark.integration

# Bounded so the whole fuzz run stays well under 90 s on 2 cores.
MAX_EXAMPLES = 200
OPENAPI_FILE = Path(__file__).resolve().parents[2] / "cds_service" / "openapi.json"


@schemathesis.check
def error_is_operation_outcome(ctx, response, case) -> bool | None:
    """Every 4xx/5xx answer is a FHIR OperationOutcome with at least one issue, as application/fhir+json."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]  # lowercase keys, list values
    assert content_type.startswith("application/fhir+json"), f"error answered as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict) and body.get("resourceType") == "OperationOutcome", body
    assert isinstance(body.get("issue"), list) and body["issue"], body
    return True


# Loaded from the repository file (the served /openapi.json is the same file: test_openapi_routes checks it).
# Not schemathesis.pytest.from_fixture: its lazy loader breaks on pytest 9 (it sets Function._nodeid).
schema = schemathesis.openapi.from_path(
    OPENAPI_FILE,
    config=SchemathesisConfig.from_dict(
        {
            "seed": 20240607,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "request-timeout": 10,
        }
    ),
)


_FHIR_SERVER_FIELD = Draft202012Validator(
    json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["components"]["schemas"]["HookRequest"]["properties"][
        "fhirServer"
    ]
)


def keep_fhir_reads_on_loopback(case, dead_fhir_server: str) -> None:
    """A generated fhirServer would make the service call that host: point it at a closed loopback port.

    Only a value the schema accepts is replaced (an invalid one is refused with 400 before any read), so a
    negative case stays negative.
    """
    body = case.body
    if isinstance(body, dict) and _FHIR_SERVER_FIELD.is_valid(body.get("fhirServer", 0)):
        body["fhirServer"] = dead_fhir_server


SERVICE_FOR_HOOK = {service.hook: service.id for service in SERVICES}


def aim_at_the_hooks_service(case) -> None:
    """Send a call to the service of its hook, so generated calls reach the pipeline instead of ending in
    'service answers another hook'. Only a valid id is replaced: a negative id stays negative."""
    body, params = case.body, case.path_parameters or {}
    service_id, hook = params.get("id"), body.get("hook") if isinstance(body, dict) else None
    if isinstance(service_id, str) and service_id in SERVICES_BY_ID and isinstance(hook, str):
        params["id"] = SERVICE_FOR_HOOK.get(hook, service_id)


@schema.parametrize()
def test_api_never_fails_and_errors_are_outcomes(case, running_service, dead_fhir_server):
    keep_fhir_reads_on_loopback(case, dead_fhir_server)
    aim_at_the_hooks_service(case)
    case.call_and_validate(
        base_url=running_service.base_url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            negative_data_rejection,
            unsupported_method,
            error_is_operation_outcome,
        ]
    )


_B64URL = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=60)
authorization_values = st.one_of(
    # Visible ASCII and Latin-1 (what may travel in a header field); controls are refused by gunicorn itself
    # (see test_requests_gunicorn_refuses_get_an_operation_outcome). No leading space: requests refuses to send one.
    st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=200).filter(
        lambda value: value == value.lstrip()
    ),
    st.builds(lambda a, b, c: f"Bearer {a}.{b}.{c}", _B64URL, _B64URL, _B64URL),
    st.sampled_from(["Bearer", "Bearer ", "bearer x", "Basic dXNlcjpwYXNz", "Bearer a.b", "Bearer ...."]),
)


@settings(max_examples=120, deadline=None)
@given(authorization_values)
def test_any_authorization_header_that_is_not_a_signed_token_is_401(running_service, value):
    """Schemathesis sends no Authorization header (the scheme is optional in development); this sends any."""
    session = requests.Session()
    session.trust_env = False
    for method, path, body in (("GET", "/cds-services", None),
                               ("POST", "/cds-services/procedure-coding-order-sign", {"hook": "order-sign"})):
        response = session.request(method, running_service.base_url + path, json=body, timeout=10,
                                   headers={"Authorization": value})
        # A header that is sent is checked even in development, before the body is read: none of these is a
        # token an issuer signed, so each is refused.
        assert response.status_code == 401, (value, response.status_code, response.text)
        assert response.headers["Content-Type"].startswith("application/fhir+json")
        assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/cds-services", {"Authorization": "Bearer \x7f"}, 400),  # a control character in a header
        ("/cds-services/" + "a" * 5000, {}, 414),  # a request line past gunicorn's limit
        ("/cds-services", {"X-Padding": "a" * 9000}, 431),  # a header field past gunicorn's limit
    ],
    ids=["control-character", "long-request-line", "huge-header"],
)
def test_requests_gunicorn_refuses_get_an_operation_outcome(running_service, path, headers, status):
    response = requests.get(running_service.base_url + path, headers=headers, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/fhir+json"), response.text[:200]
