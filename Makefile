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

.PHONY: bench bench-data eval run test test-fast test-slow lint typecheck format install install-dev migrate seed clean

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

## Benchmark data in PostgreSQL (BENCH_POSTGRES_URL): inbox_bench_10k (10k conversations) and inbox_bench (1M
## conversations, 10M messages, 200k contacts). Recreated from scratch each time; niced, as it is long.
BENCH_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432
BENCH_ENV = DATABASE_URL=$(BENCH_POSTGRES_URL)/postgres SECRET_KEY=bench-data-only-secret-key-0123456789abcdefghijklmnop
bench-data: install
	$(BENCH_ENV) nice -n 10 $(PY) manage.py bench_data --database-name inbox_bench_10k \
		--conversations 10000 --messages 100000 --contacts 2000
	$(BENCH_ENV) nice -n 10 $(PY) manage.py bench_data --database-name inbox_bench \
		--conversations 1000000 --messages 10000000 --contacts 200000

## Every benchmark in bench/, each figure beside a baseline measured in the same run (docs/PERFORMANCE.md).
bench: install
	BENCH_POSTGRES_URL=$(BENCH_POSTGRES_URL) $(PY) -m bench.run

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
