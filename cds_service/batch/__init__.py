"""Retrospective audit of a FHIR Bulk Data export: `cds-service audit` (see the README's audit section).

ndjson -> staging (SQLite, keyed by patient) -> grouping (one patient's encounters) -> the coding engine
-> billing comparison -> outputs. Not to be confused with `store/audit.py`, the per-call audit trail.
"""
