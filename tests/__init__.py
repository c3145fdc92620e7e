"""The test suite (a regular package, so that a library shipping a top-level `tests` package cannot shadow it)."""
