# Every target bootstraps .venv from nothing but a Python >= 3.11 and the package registries.
# PYTHON is the first of these the machine has that is 3.11 or newer (or PYTHON=... given).
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3.14 python3; do \
	if command -v $$p >/dev/null 2>&1 && \
	   $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
		echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-all lint typecheck demo bench clean

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "no Python 3.11 or newer found (tried python3.11, python3.12, python3.13," \
		     "python3.14, python3): install one, or run make PYTHON=/path/to/python3.11" >&2; \
		exit 1; fi
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict epmm_async

test: lint typecheck
	$(BIN)/pytest -q

test-all: lint typecheck
	EPMM_THOROUGH=1 $(BIN)/pytest -q -m ''

demo: $(STAMP)
	$(BIN)/epmm demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
