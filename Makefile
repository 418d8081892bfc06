# prpclinic: `make run` starts the demo clinic, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_WORKERS ?= 2

.PHONY: run test lint format bench docs clean

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

clean:
	rm -rf $(VENV) var
