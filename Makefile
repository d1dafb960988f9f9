# Sunlight: `make run` shows the whole thing working; `make test` runs every test.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin

.PHONY: run test install dev broker-start broker-stop lint bench clean

$(BIN)/sunlight: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/sunlight

run: install
	$(BIN)/sunlight run

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .

broker-start:
	deploy/kafka-local start

broker-stop:
	deploy/kafka-local stop

bench: install
	$(BIN)/python bench/ingest.py

clean:
	deploy/kafka-local stop || true
	rm -rf var
