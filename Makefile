# Relance developer commands. Everything installs into ./.venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: help setup demo test test-fast test-sqlite test-postgres lint fmt bench bench-smoke clean

help:
	@echo "make demo    install, load a demo ledger and serve it at http://$(HOST):$(PORT)"
	@echo "make test    run the whole test suite (SQLite; Spark when pyspark is installed; PostgreSQL too when RELANCE_TEST_POSTGRES_URL is set)"
	@echo "make test-fast  the inner loop: the suite without slow, browser and Spark tests (under 2 minutes)"
	@echo "make lint    ruff + mypy + the layer contracts (lint-imports; docs/architecture.md)"
	@echo "make bench-smoke  every benchmark at a small size (each checks itself against its simple approach)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Relance needs Python 3.11+"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv is missing; installing it (Debian/Ubuntu)…"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }

# Quiet when it succeeds (setuptools' editable-install "!!" notice reads like a failure); the whole
# log is shown when it fails.
$(STAMP): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	@echo "Installing Relance and its dependencies into $(VENV)…"
	@log=$$(mktemp); \
	if $(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip >"$$log" 2>&1 \
	  && $(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev,postgres,predict]" -e clients/python >>"$$log" 2>&1; \
	then rm -f "$$log"; echo "Installed."; \
	else cat "$$log"; rm -f "$$log"; echo "pip install failed (output above)"; exit 1; fi
	@touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/relance demo --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest -n 2 -p no:cacheprovider -m "not spark" $(PYTEST_ARGS)
	@if $(BIN)/python -c 'import pyspark' 2>/dev/null; then \
	  echo "== the Spark engine tests (one process, one local SparkSession) =="; \
	  $(BIN)/pytest -p no:cacheprovider -m spark $(PYTEST_ARGS) || [ $$? -eq 5 ]; \
	else \
	  echo "SKIPPED: Spark run (needs the spark extra: $(BIN)/pip install -e '.[spark]', and Java 17+; .ci/run does)"; \
	fi
	@if [ -n "$$RELANCE_TEST_POSTGRES_URL" ]; then \
	  echo "== the Django suite again, on PostgreSQL ($$RELANCE_TEST_POSTGRES_URL) =="; \
	  DATABASE_URL="$$RELANCE_TEST_POSTGRES_URL" $(BIN)/pytest -n 2 -p no:cacheprovider -m "not browser and not spark" $(PYTEST_ARGS); \
	else \
	  echo "SKIPPED: PostgreSQL run (set RELANCE_TEST_POSTGRES_URL=postgres://user:pass@host/db; .ci/run does)"; \
	fi

# Every benchmarks/bench_*.py at a small size: none rots (CI runs it after the tests). The
# PostgreSQL-only ones run when RELANCE_TEST_POSTGRES_URL is set.
bench-smoke: setup
	$(BIN)/python benchmarks/smoke.py

# The inner loop: what tests/conftest.py marks slow (subprocesses, the demo, whole-app sweeps,
# day-by-day scenarios, property tests), browser and Spark tests left out. CI runs `make test`.
test-fast: setup
	$(BIN)/pytest -n 2 -p no:cacheprovider -m "not slow and not browser and not spark" $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy relance config tests
	cd clients/python && $(CURDIR)/$(BIN)/mypy --strict src
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
