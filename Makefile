# ETP Express — developer commands. `make run` and `make test` install everything first.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help install run test lint format migration bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev tools

run: install ## start the console chat on embedded defaults (SQLite, in-memory, offline drafter)
	$(VENV)/bin/etp chat

test: install ## run the whole test suite
	$(PY) -m pytest

lint: install ## ruff, mypy and the layer contract
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install ## format the code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migration: install ## new Alembic revision from the models: make migration m="what changed"
	$(VENV)/bin/alembic -c migrations/alembic.ini revision --autogenerate -m "$(m)"

bench: install ## run the benchmarks in bench/
	$(PY) bench/run.py

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
