# One entry point per task. Every target installs what it needs into .venv the first time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The exact versions of everything installed are in uv.lock (made by uv from pyproject.toml).
# Adding a package: `.venv/bin/uv add 'NAME==VERSION'` (or `--optional dev`), which updates
# pyproject.toml and uv.lock together and installs it; commit both.
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml uv.lock | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-tools test-clients check validate bench migrate clean

install: $(STAMP)

# --locked: a pyproject.toml that uv.lock does not match stops the install (run `uv lock`).
$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/uv sync --quiet --locked --extra dev --extra otel --active
	rm -f $(VENV)/.installed-*
	touch $@

# The database named by DATABASE_URL (./bordin.db by default), made or brought up to date.
migrate: install
	$(BIN)/bordin migrate

# Local development: webhooks may reach receivers on this machine (never in production).
# `bordin serve` as in production (WORKERS, METRICS_PORT, REDIS_URL... from the environment).
run: migrate
	$(BIN)/bordin bootstrap
	WEBHOOK_ALLOW_PRIVATE_NETWORKS=$${WEBHOOK_ALLOW_PRIVATE_NETWORKS:-true} \
		HOST=$(HOST) PORT=$(PORT) $(BIN)/bordin serve

# The chart tests render SVG to PNG with librsvg (Debian's librsvg2-bin), and the browser tests
# drive Debian's Chromium (at BORDIN_CHROMIUM; no browser is ever downloaded): both installed
# if missing.
BORDIN_CHROMIUM ?= /usr/bin/chromium
export BORDIN_CHROMIUM
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
test: install test-tools
	$(BIN)/pytest

# What the suite needs beside Python packages, from Debian (installed once, before any run).
test-tools:
	@command -v rsvg-convert >/dev/null || { apt-get update -qq && apt-get install -y -qq librsvg2-bin; } \
		|| { echo "make test needs rsvg-convert: apt-get install librsvg2-bin"; exit 1; }
	@test -x "$(BORDIN_CHROMIUM)" || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| { echo "make test needs Chromium at $(BORDIN_CHROMIUM): apt-get install chromium"; exit 1; }

# Clients generated from the served /openapi.json (Python and TypeScript), used against a live
# server on loopback. Needs node and npm; installs the generators in temporary environments.
test-clients: install
	PYTHON=$(PYTHON) bash clients/run.sh

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

validate: install
	$(BIN)/bordin validate $(or $(DIR),instruments)

bench: install
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis bordin.db bordin.db-* \
		clients/typescript/node_modules clients/typescript/generated
