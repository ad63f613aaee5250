# SPDX-License-Identifier: Apache-2.0
# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
export MYNA_EDGE_SIM_HOME ?= $(CURDIR)/.sim-home

.PHONY: demo test lint format bench bench-report debs debs-demo venv venv-test docs docs-serve clean models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The demo venv has the reader backends too (pcsc://, libnfc://, `myna-edge readers`)
# and the MFP's CUPS client (pycups, the printing extra: the issuance story); pyscard and
# pycups build from source, so without debs-demo's headers it goes on without them,
# and the venv is not marked done: the next `make demo` (after debs-demo) tries again.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt -e '.[demo]'
	if $(PIP) install -c constraints.txt -e '.[demo,readers,printing]'; then touch $@; else \
	echo "make demo: the reader backends (pyscard, pynfc) or pycups did not build; as \
	root: make debs-demo, then make demo" >&2; fi

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed

# The manual's tools (mkdocs.yml), also in the test extra for lint's strict build.
$(VENV)/.installed-docs: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt -e '.[docs]'
	touch $@

# axe-core for the kiosk app's accessibility tests (tests/browser/test_ui_a11y.py), from
# the lock file: npm ci reinstalls exactly it whenever the lock file changes.
NODE_DEPS := tests/browser/node_modules/.package-lock.json
$(NODE_DEPS): tests/browser/package-lock.json tests/browser/package.json
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error

# Buf for lint's checks of the gRPC contracts (buf lint, buf breaking; see buf.yaml), from
# tools/package-lock.json the same way: the npm package ships the binary.
BUF := tools/node_modules/.bin/buf
TOOL_DEPS := tools/node_modules/.package-lock.json
$(TOOL_DEPS): tools/package-lock.json tools/package.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error

venv: $(VENV)/.installed
venv-test: $(VENV)/.installed-test $(NODE_DEPS) $(TOOL_DEPS)

## demo: set up (Debian packages when root: the receipts' font, the reader backends' build
## needs), then run the main job on the embedded default (virtual card)
demo: debs-demo venv
	$(BIN)/myna-edge demo

## test: set up (Debian packages when root, venv) and pass lint and the whole suite
test: debs venv-test lint
	$(BIN)/python -m pytest

lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	MYPY_MP_TYPINGS=$$($(BIN)/python firmware/tools/stub_path.py) $(BIN)/mypy --config-file firmware/mypy.ini firmware
	$(BUF) lint
	$(BUF) breaking --against protos/baseline/v1.binpb
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

format: venv-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the pytest-benchmark suites, with figures (ratios against in-run baselines)
bench: venv-test
	$(BIN)/python -m pytest tests/bench --benchmark-enable --benchmark-only -q

## bench-report: every suite, written to bench-report/ (Markdown table + PNG plots)
bench-report: venv-test
	$(BIN)/myna-edge bench

## models: model-check the exactly-once protocols with spin at a larger bound
## (make models BOUND=3); make test runs them at bound 1 (tests/models)
BOUND ?= 2
models: debs venv
	$(BIN)/myna-edge models check --bound $(BOUND)

## docs: build the manual (mkdocs.yml) into site/; docs-serve: serve it on 127.0.0.1:8000
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000

debs:
	scripts/install-debian-packages.sh

debs-demo:
	scripts/install-debian-packages.sh scripts/debian-packages-demo.txt

clean:
	rm -rf $(VENV) site .sim-home .pytest_cache .mypy_cache .ruff_cache .benchmarks tests/browser/node_modules tools/node_modules
