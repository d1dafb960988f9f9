# Sunlight: `make run` shows the whole thing working; `make test` runs every test.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin

.PHONY: run test install dev broker-start broker-stop lint typecheck bench clean

$(BIN)/sunlight: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# The per-event core compiled with mypyc (compiled/__init__.py), rebuilt when its sources
# changed: needs gcc and Python's headers.
install: $(BIN)/sunlight
	$(BIN)/python -m compiled.build --if-needed

run: install
	$(BIN)/sunlight run

# Everything the tests need is installed or started on the way: the venv, Prometheus and
# promtool (deploy/install-prometheus), the local broker (tests/conftest.py). Lint and the type
# check first (seconds); the tests run even when they fail, and `make test` fails if any of
# the three did.
test: install
	deploy/install-prometheus
	@status=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || status=1; \
	echo "$(BIN)/pytest"; $(BIN)/pytest || status=1; \
	exit $$status

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

broker-start:
	deploy/kafka-local start

broker-stop:
	deploy/kafka-local stop

bench: install
	$(BIN)/python bench/ingest.py

clean:
	deploy/kafka-local stop || true
	rm -rf var
