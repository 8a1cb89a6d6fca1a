# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FUZZ_REQUESTS ?= 20000

.PHONY: setup run test lint openapi bench bench-pipeline soak fuzz

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/memory-service serve

lint: setup
	$(BIN)/ruff check service tests benchmarks migrations
	$(BIN)/ruff format --check service tests benchmarks migrations
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

openapi: setup
	$(BIN)/memory-service openapi --output openapi.yaml

bench: setup
	$(BIN)/python -m benchmarks

bench-pipeline: setup
	$(BIN)/python -m benchmarks.pipeline

soak: setup
	$(BIN)/python -m benchmarks.soak

fuzz: setup
	$(BIN)/python -m benchmarks.fuzz --requests $(FUZZ_REQUESTS)
