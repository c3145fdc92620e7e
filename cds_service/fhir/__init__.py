"""FHIR access: prefetch resolution, fetching what is missing, and checking resources before use."""
