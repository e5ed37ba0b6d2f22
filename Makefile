# One Makefile for people and CI.  Every target installs what it needs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: help venv demo test test-fast lint bench loadtest clean

help:
	@echo "make demo      generate a small tenant day, validate it, deliver it to a local listener"
	@echo "make test      lint + type-check + the whole pytest suite (what CI runs)"
	@echo "make test-fast the suite without slow tests (wheel build, crash loops, Locust)"
	@echo "make lint      ruff + mypy --strict"
	@echo "make bench     side-by-side benchmarks (bench/), never part of make test"
	@echo "make loadtest  a short headless Locust firehose against chestsim listen"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/chestsim demo

lint: $(STAMP)
	$(BIN)/ruff check simulator tests bench loadtests examples scenarios
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow and not locust' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache bench/out loadtests/out
