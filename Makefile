# Ampyre: `make run` starts a demo, `make test` checks everything. Both bootstrap .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# pytest processes (pytest-xdist); every test has its own databases, ports and subjects.
TEST_WORKERS ?= 2

.PHONY: run test test-browser screenshots chromium exi ocpi-venv lint fmt typecheck bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory exi
	@touch $(STAMP)

# Plug & Charge's EXI codec: the jar (EXIficient) that the `iso15118` package ships, driven
# through py4j. Installed without its dependencies (it pins pydantic 1 and an old
# cryptography; we use only the jar). It runs on Java: Debian's default-jre-headless is
# installed with apt when `java` is missing.
exi:
	$(BIN)/python -m pip install --quiet --no-deps 'iso15118==0.31.2'
	@if ! command -v java >/dev/null; then \
	  echo "java is missing: installing Debian's default-jre-headless for the EXI codec (Plug & Charge)"; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "no apt-get here: install a Java runtime (11+) yourself" >&2; exit 1; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jre-headless; \
	  elif command -v sudo >/dev/null; then \
	    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y default-jre-headless; \
	  else \
	    echo "cannot install java: not root and no sudo; as root run: apt-get install default-jre-headless" >&2; \
	    exit 1; \
	  fi; \
	fi

# The OCPI interop test's independent implementation (tests/interop/extrawest_emsp.py): the
# extrawest-ocpi package pins fastapi 0.101 / pydantic 1 / httpx 0.24, so it gets a
# virtualenv of its own, from the package index with pip (uvicorn serves it).
OCPI_VENV := .venv-ocpi
OCPI_STAMP := $(OCPI_VENV)/.installed
$(OCPI_STAMP):
	@test -x $(OCPI_VENV)/bin/python || $(PYTHON) -m venv $(OCPI_VENV)
	$(OCPI_VENV)/bin/python -m pip install --quiet 'extrawest-ocpi==2025.7.16' 'uvicorn>=0.29,<1'
	@touch $(OCPI_STAMP)

ocpi-venv: $(OCPI_STAMP)

run: $(STAMP)
	$(BIN)/python -m ampyre.demo

# The browser tests drive Debian's Chromium; the only system package we need. Installed
# with apt when missing (never a browser download).
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "$(CHROMIUM) is missing: installing Debian's chromium package for the browser tests"; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "no apt-get here: install Chromium as $(CHROMIUM) yourself" >&2; exit 1; \
	  elif [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  elif command -v sudo >/dev/null; then \
	    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	  else \
	    echo "cannot install chromium: not root and no sudo; as root run: apt-get install chromium" >&2; \
	    exit 1; \
	  fi; \
	  test -x $(CHROMIUM) || { echo "chromium installed but $(CHROMIUM) is not there" >&2; exit 1; }; \
	fi

test: $(STAMP) chromium ocpi-venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --durations=25

test-browser: $(STAMP) chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider -m browser tests/browser

# Re-take the README's screenshots (docs/screenshots/*.png) from a live server.
screenshots: $(STAMP) chromium
	AMPYRE_SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/browser/test_screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The bench extra (picows, py-spy for --profile) on top of the test install;
# `make test` never needs it.
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $(BENCH_STAMP)

# Every target of issue 15 in one run: closed loop, paced at twice the ocpp-lib CSMS's
# closed-loop msgs/s, idle 19,900 stations, transactions at 7,200 values/s (the default
# --mv-rate), on SQLite and PostgreSQL, with a py-spy profile of the ampyre rows (not the idle ones).
# Then issue 18's site balancing: recompute + dispatch for 1 x 500 and 100 x 20 EVSEs
# (bench/balancing.py, docs/benchmarks-balancing.md).
BENCH_ARGS ?= --scenario throughput,paced,idle,transactions,scaleout,scaleout-idle --db sqlite,postgres --profile
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.balancing

clean:
	rm -rf $(VENV) $(OCPI_VENV) var build *.egg-info .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
