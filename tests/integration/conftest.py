"""Integration tests use the session fixtures of tests/conftest.py (fhir_server, postgres_cluster)."""
