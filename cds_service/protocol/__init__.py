"""HTTP layer: routes, request validation, CORS, errors. Knows nothing about coding."""
