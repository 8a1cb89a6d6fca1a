# `make run` and `make test` work on a fresh machine: they create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FUZZ_REQUESTS ?= 20000
# setuptools announces every editable install as a warning ("Editable installation...", an
# information, not a problem), which pip shows even with --quiet; any other warning still shows.
PIP_INSTALL := PYTHONWARNINGS='ignore:Editable installation:UserWarning' $(BIN)/pip install --quiet

.PHONY: setup setup-run run cli test lint openapi bench bench-pipeline bench-decisions soak fuzz

# Two stamps: `run` installs what serving needs (.), everything else the development extras
# (.[dev], which includes it, so it stamps both). Either works first on a fresh machine.
setup-run: $(VENV)/.installed-run
setup: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: setup-run
	$(BIN)/memory-service serve

# The command line without activating .venv: make cli ARGS='keys create --tenant acme'
cli: setup-run
	@$(BIN)/memory-service $(ARGS)

lint: setup
	$(BIN)/ruff check service tests tests_live benchmarks migrations tools
	$(BIN)/ruff format --check service tests tests_live benchmarks migrations tools
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Opt-in, not part of `make test`: the ingestion pipeline against a real OpenAI-compatible server
# (llama-server with a small model, cached in ~/.cache/memory-service; its first build takes
# minutes). -s shows what the tests measure.
.PHONY: test-llm-live
test-llm-live: setup
	$(BIN)/python -m tools.llama_server
	$(BIN)/pytest tests_live -s

openapi: setup
	$(BIN)/memory-service openapi --output openapi.yaml

# docs/configuration.md's tables, from the settings in service/settings.py.
.PHONY: docs
docs: setup
	$(BIN)/python -m service.settings_doc

bench: setup
	$(BIN)/python -m benchmarks

bench-pipeline: setup
	$(BIN)/python -m benchmarks.pipeline

# Decision quality of the LLM step: against the scripted oracle by default; point it at a model
# with ARGS='--llm-base-url URL --model M --api-key-env VAR'.
bench-decisions: setup
	$(BIN)/python -m benchmarks.decisions $(or $(ARGS),--oracle)

soak: setup
	$(BIN)/python -m benchmarks.soak

fuzz: setup
	$(BIN)/python -m benchmarks.fuzz --requests $(FUZZ_REQUESTS)
