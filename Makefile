# ETP Express — developer commands. `make run` and `make test` install everything first.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# Dependencies are pinned with hashes: requirements.lock (what runs: the image, production) and
# requirements-dev.lock (that plus the dev tools: make, CI). `make lock` re-pins them.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(if $(upgrade),--upgrade)

.PHONY: help install run test lint format migration bench lock audit clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -m pip check || { echo "the lock files lack what pyproject.toml asks for: make lock"; exit 1; }
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

# not after `install`: that stops (pip check) while the locks lack what pyproject.toml asks for
lock: ## re-pin both lock files after a change to pyproject.toml (upgrade=1: newest versions)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(PIP_COMPILE) --build-deps-for wheel -o $(LOCK) pyproject.toml
	$(PIP_COMPILE) --extra dev --build-deps-for editable -c $(LOCK) -o $(DEV_LOCK) pyproject.toml

audit: install ## known vulnerabilities in the pinned versions (pip-audit; needs PyPI and OSV)
	$(VENV)/bin/pip-audit --strict --disable-pip --require-hashes -r $(LOCK)
	$(VENV)/bin/pip-audit --strict --disable-pip --require-hashes -r $(DEV_LOCK)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
