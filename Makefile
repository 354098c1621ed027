# The two commands: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test

.PHONY: serve test venv test-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

venv: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/dicomqr serve $(ARGS)

$(TESTSTAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test]'
	touch $@

test-deps: $(TESTSTAMP)
	sh scripts/install-test-deps.sh

test: test-deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(TESTSTAMP)
	$(PY) -m ruff check src tests bench
	$(PY) -m mypy

bench: $(TESTSTAMP)
	sh scripts/install-test-deps.sh
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
