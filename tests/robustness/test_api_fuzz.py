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
import schemathesis
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
