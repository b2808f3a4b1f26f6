# Every target bootstraps what it needs and is safe to run again.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
# Three workers on two cores: the integration tests spend much of their time waiting on anvil,
# relays and the processes they start, so a third worker fills the idle CPU (measured: -n 2 197 s,
# -n 3 154 s, -n 4 161 s for the whole suite).
WORKERS ?= 3
# Keep compiled bytecode (and pytest's rewritten test modules) between processes and runs,
# even where the environment turns it off: every test process, relay and zygote would
# otherwise recompile the project's modules.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: test test-fast check lint types format demo bench setup clean compile browser

setup: $(STAMP) $(if $(wildcard package.json),$(NPM_STAMP))

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package.json $(wildcard package-lock.json)
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

# The whole suite: unit, property and integration tests (anvil, relay and PostgreSQL
# processes; PostgreSQL tests skip with a reason unless HONGBAO_TEST_POSTGRES_URL is set).
test: setup compile browser
	$(PY) -m pytest -q -n $(WORKERS) --dist loadgroup

# The app's browser test drives Debian's Chromium (Playwright cannot download a browser
# here). Installed when we may (root with apt-get); otherwise that one test skips, saying why.
browser:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get install -y -qq chromium >/dev/null 2>&1; } \
		|| echo "Chromium is not installed (apt-get install chromium): the app's browser test will skip"

# The edit loop: tests that start no process, property tests with fewer examples.
test-fast: setup compile
	HYPOTHESIS_PROFILE=fast $(PY) -m pytest -q -n $(WORKERS) --dist loadgroup -m "not slow"

# Bytecode for the project and its tests before the test processes start: otherwise a fresh
# clone's workers, zygotes and relays each compile the same modules at once (~18 s of the
# suite's first run; this takes under a second, and nothing when up to date).
compile: setup
	$(PY) -m compileall -q wallet messaging contracts node cli tests > /dev/null

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

types: setup
	$(PY) -m mypy

check: lint types test-fast

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

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
	$(PY) bench/defi.py
	$(PY) bench/seaport.py
	$(PY) bench/agent.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis .mypy_cache .ruff_cache
