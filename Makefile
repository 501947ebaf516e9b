# The two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
PYTEST_ARGS ?=
# The suite runs on every core (pytest-xdist; each worker has its own PostgreSQL and Redis database).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) --dist loadscope
# Webhook URLs, the widget snippet and the demo login file are built from this.
export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: eval run test test-fast test-slow lint typecheck format install install-dev migrate seed clean

UV_VERSION := 0.13.8
# uv installs the pinned requirements several times faster than pip; pip is the fallback.
PIP_INSTALL = $(VENV)/bin/uv pip install --quiet --python $(PY) -r $(1) || $(PY) -m pip install --quiet -r $(1)

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) || true
	@touch $@

$(VENV)/.installed: requirements.txt $(VENV)/.python-ok
	$(call PIP_INSTALL,requirements.txt)
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(call PIP_INSTALL,requirements-dev.txt)
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## Start the whole product in embedded mode (SQLite, in-process worker and beat).
run: seed
	$(PY) manage.py run_embedded --host $(HOST) --port $(PORT)

## Lint, type-check and run the whole suite (PostgreSQL and Redis when present).
test: install-dev lint typecheck
	$(PY) scripts/with_services.py $(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## The suite without the slow browser and process tests.
test-fast: install-dev
	$(PY) scripts/with_services.py $(PY) -m pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

test-slow: install-dev
	$(PY) scripts/with_services.py $(PY) -m pytest $(PYTEST_PARALLEL) -m slow $(PYTEST_ARGS)

## The assistant's local responder on the held-out labelled messages: handoff recall, false handoffs, topic accuracy.
eval: install
	$(PY) -m routing.eval.run --split test

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles .mypy_cache .ruff_cache
