"""Trust: who may call the service (JWT per CDS Hooks 2.0) and which FHIR servers it may call for them."""
