# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
export HOST PORT

.PHONY: run test lint bench bench-audit test-deps fhir-server-deps clean demo
FHIR_SERVER_DIR := tests/infra/fhir_server

# The service itself: a venv with the package installed (editable).
$(BIN)/cds-service: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

# Test tools on top of it.
$(VENV)/.test-deps: $(BIN)/cds-service pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

run: $(BIN)/cds-service
	$(BIN)/gunicorn -c python:cds_service.gunicorn_conf cds_service.wsgi:app

# Loopback FHIR R4 server for the integration tests (Medplum's engine + Node 22, both from npm).
# npm ci writes node_modules/.package-lock.json last, so this reruns only when the lock file changes.
$(FHIR_SERVER_DIR)/node_modules/.package-lock.json: $(FHIR_SERVER_DIR)/package.json $(FHIR_SERVER_DIR)/package-lock.json
	cd $(FHIR_SERVER_DIR) && npm ci --no-audit --no-fund --engine-strict=false

fhir-server-deps: $(FHIR_SERVER_DIR)/node_modules/.package-lock.json

# System packages (Chromium, PostgreSQL, npm) first: the FHIR server install needs npm.
test-deps: $(VENV)/.test-deps
	bash tests/infra/install.sh
	$(MAKE) fhir-server-deps

test: test-deps
	$(BIN)/ruff check cds_service tests bench
	$(BIN)/pytest -q

lint: $(VENV)/.test-deps
	$(BIN)/ruff check cds_service tests bench

bench: test-deps
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.audit

# The audit benchmark alone (generated exports of 10k and 100k encounters; see README, Retrospective audit).
bench-audit: test-deps
	$(BIN)/python -m bench.audit

# Local FHIR server (CORS on) with the playground's scenarios as patients, the service, and sandbox URLs.
demo: $(VENV)/.test-deps fhir-server-deps
	$(BIN)/python -m tests.infra.demo

clean:
	rm -rf $(VENV) var .pytest_cache
