# prpclinic: `make run` starts the demo clinic, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: run test lint format bench soak docs clean deploy-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	mkdir -p var
	DEBUG=1 $(BIN)/prpclinic migrate --noinput
	DEBUG=1 $(BIN)/prpclinic demo
	DEBUG=1 $(BIN)/prpclinic runserver --noreload 127.0.0.1:$(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# SQLite by default; PostgreSQL when DATABASE_URL is set (pytest-django makes test databases).
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup -rs

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(VENV)/.installed
	DEBUG=1 $(BIN)/prpclinic roles_doc

bench: $(VENV)/.installed
	$(BIN)/python -m bench.run

# Ten minutes, sixteen clients, a mix of pages; zero errors and a steady memory footprint.
soak: $(VENV)/.installed
	$(BIN)/python -m bench.soak --minutes 10 --clients 16

# The production setup of docs/deployment.md (PostgreSQL, gunicorn, worker, nginx with TLS) on
# loopback, checked end to end through nginx. Root on Debian 12 (installs nginx if missing);
# DEPLOY_CHECK_PG_URL = a PostgreSQL superuser (default postgres://postgres@127.0.0.1:5432).
deploy-check: $(VENV)/.installed
	bash deploy/check.sh

clean:
	rm -rf $(VENV) var
