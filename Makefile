# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
export HOST PORT

.PHONY: run test lint bench test-deps clean

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

test-deps: $(VENV)/.test-deps
	bash tests/infra/install.sh

test: test-deps
	$(BIN)/ruff check cds_service tests bench
	$(BIN)/pytest -q

lint: $(VENV)/.test-deps
	$(BIN)/ruff check cds_service tests bench

bench: test-deps
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache
