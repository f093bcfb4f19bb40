# The two commands: `make up` runs the platform, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: up test install lint bench lock clean

up: install ## run every service on embedded backends and print the storefront URL
	$(VENV)/bin/mce up

test: install ## install test servers (PostgreSQL, Chromium), then run the whole suite
	@pg_url=$$(deploy/local/postgres.sh) && chromium=$$(deploy/local/chromium.sh) && \
	MCE_TEST_POSTGRES_URL="$$pg_url" MCE_CHROMIUM="$$chromium" MCE_REQUIRE_TEST_SERVERS=1 \
	$(VENV)/bin/pytest

install: $(VENV)/.installed ## create the virtual environment from the lock file

$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(UV) ## re-resolve dependencies into uv.lock after editing pyproject.toml
	$(UV) lock

bench: install ## measure throughput and latency (prints figures; see bench/README.md)
	$(VENV)/bin/python -m bench.run

clean: ## remove the environment and local data
	rm -rf $(VENV) $(TOOLS) .mce
