# Every target bootstraps what it needs and is safe to run again.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: test demo bench setup clean

setup: $(STAMP) $(if $(wildcard package.json),$(NPM_STAMP))

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json $(wildcard package-lock.json)
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

test: setup
	$(PY) -m pytest -q -n 2

demo: setup
	$(PY) -m cli.demo

bench: setup
	$(PY) bench/keys.py
	$(PY) bench/sync.py
	$(PY) bench/transfers.py
	$(PY) bench/gas.py
	$(PY) bench/messaging.py
	$(PY) bench/sessions.py
	$(PY) bench/relay.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis
