# One Makefile for people and CI.  Every target installs what it needs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PYTEST_ARGS ?=
# Debian's Chromium, driven by Playwright in the browser tests (Playwright cannot fetch its own here).
CHROMIUM ?= /usr/bin/chromium

.PHONY: help venv specs browser demo test test-fast lint bench loadtest clean

help:
	@echo "make demo      generate a small tenant day, validate it, deliver it to a local listener"
	@echo "make test      lint + type-check + the whole pytest suite (what CI runs)"
	@echo "make specs     fetch the AsyncAPI 3.0 specification schema the contract tests check against (npm)"
	@echo "make test-fast the suite without slow tests (wheel build, crash loops, Locust)"
	@echo "make lint      ruff + mypy --strict"
	@echo "make browser   install Debian's Chromium and wrk for the browser and load tests when missing (as root)"
	@echo "make bench     side-by-side benchmarks (bench/), never part of make test"
	@echo "make loadtest  a short headless Locust firehose against chestsim listen"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The AsyncAPI 3.0 specification's JSON Schema, which tests/contract/ checks the export against: taken from
# the npm package that publishes it, never kept in the repo. Idempotent; a cut-short fetch leaves nothing behind.
ASYNCAPI_SPECS := 6.11.1
ASYNCAPI_DIR   := .cache/asyncapi-specs-$(ASYNCAPI_SPECS)
ASYNCAPI_SPEC  := $(ASYNCAPI_DIR)/schemas/3.0.0.json

$(ASYNCAPI_SPEC):
	@command -v npm >/dev/null || { echo "make: npm is needed to fetch @asyncapi/specs (apt-get install npm)" >&2; exit 2; }
	rm -rf $(ASYNCAPI_DIR).part && mkdir -p $(ASYNCAPI_DIR).part
	cd $(ASYNCAPI_DIR).part && npm pack --silent @asyncapi/specs@$(ASYNCAPI_SPECS) >/dev/null \
		&& tar -xzf asyncapi-specs-$(ASYNCAPI_SPECS).tgz --strip-components=1 package/schemas/3.0.0.json
	mkdir -p $(ASYNCAPI_DIR)/schemas && mv $(ASYNCAPI_DIR).part/schemas/3.0.0.json $@ && rm -rf $(ASYNCAPI_DIR).part

specs: $(ASYNCAPI_SPEC)

# Debian's Chromium (browser tests) and wrk (the SIGTERM-under-load test, benches), each when missing.
browser:
	@missing="$$(test -x $(CHROMIUM) || echo chromium) $$(command -v wrk >/dev/null || echo wrk)"; \
	if [ -n "$$(echo $$missing)" ]; then apt-get update && apt-get install -y $$missing; fi

demo: $(STAMP)
	$(BIN)/chestsim demo

lint: $(STAMP)
	$(BIN)/ruff check simulator tests bench loadtests examples scenarios scripts
	$(BIN)/mypy

test: lint specs browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) specs browser
	$(BIN)/python -m pytest -m 'not slow and not locust' $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .cache build dist .pytest_cache .mypy_cache .ruff_cache bench/out loadtests/out
