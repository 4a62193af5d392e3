# Two commands do all set-up: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: serve test lint install install-test bootstrap bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)
install-test: $(TEST_STAMP)

# Upgrade the metadata DB to head and train a small default model when none is active.
bootstrap: $(STAMP)
	$(BIN)/congestion bootstrap

serve: bootstrap
	$(BIN)/congestion serve

# Lint first (pyflakes-level rules only, see [tool.ruff] in pyproject.toml), then the suite.
lint: $(TEST_STAMP)
	$(BIN)/python -m ruff check .

# Two xdist workers, each taking whole files (module fixtures such as a Dask cluster or an S3 server
# stay with their tests): ~9 min instead of ~20 on 2 cores. `make test PYTEST_ARGS=` runs serially.
PYTEST_ARGS ?= -n 2 --dist loadfile
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python bench/train_quality.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
