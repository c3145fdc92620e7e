"""Configuration from the environment: defaults, and a clear start-up error for a bad value."""

from __future__ import annotations

import pytest

from cds_service.config import Settings


def test_defaults_are_the_development_profile():
    settings = Settings.from_env({})
    assert settings.profile == "development" and not settings.requires_authentication
    assert settings.playground_enabled and not settings.json_logs


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CDS_FHIR_TIMEOUT": "abc"}, "CDS_FHIR_TIMEOUT must be a number"),
        ({"CDS_FHIR_MAX_PAGES": "2.5"}, "CDS_FHIR_MAX_PAGES must be a whole number"),
        ({"CDS_MAX_BODY_BYTES": "0"}, "CDS_MAX_BODY_BYTES must be greater than 0"),
        ({"CDS_JWT_LEEWAY": "-1"}, "CDS_JWT_LEEWAY must be 0 or more"),
        ({"CDS_PROFILE": "staging"}, "CDS_PROFILE must be"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_numbers_are_read():
    settings = Settings.from_env({"CDS_FHIR_BUDGET": "3.5", "CDS_FHIR_MAX_PAGES": "9", "CDS_JWT_LEEWAY": "0"})
    assert (settings.fhir_time_budget, settings.fhir_max_pages, settings.jwt_leeway_seconds) == (3.5, 9, 0)
