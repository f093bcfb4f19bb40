# The two commands: `make up` runs the platform, `make test` runs every test. Each installs what it needs: `make up` only
# what the platform runs on, `make test` and `make bench` the dev tools as well.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: up up-real test deploy-check install install-dev bench load lock clean images

up: install ## run every service on embedded backends and print the storefront URL
	$(VENV)/bin/mce up

up-real: install-dev ## the same platform on real local servers (PostgreSQL, Kafka x2, MirrorMaker 2, OpenSearch, moto, Azurite, Flink)
	deploy/local/up-real.sh

# The real servers start from empty (the end-to-end tests on them use fixed names) and print their endpoints as
# NAME=value; the tests read them as MCE_TEST_NAME. The deployment checkers (kustomize, kubeconform, promtool, conftest,
# tflint, OpenTofu, trivy, actionlint) build from the Go module proxy meanwhile, once per version, into .tools/deploy.
test: install-dev ## install and start the test servers and the deployment checkers, then run every test
	deploy/local/test.sh

deploy-check: install-dev ## every offline check of the deployment artifacts (no test servers), with the API server's dry run of every manifest
	@tools=$$(deploy/check/tools.sh) && deploy/check/tools.sh etcd kube >/dev/null && checkov=$$(deploy/check/checkov.sh) && \
	MCE_DEPLOY_TOOLS_BIN="$$tools" MCE_CHECKOV="$$checkov" MCE_REQUIRE_TEST_SERVERS=1 $(VENV)/bin/pytest -m deploy

install: $(RUNTIME) ## create the virtual environment from the lock file, with what the platform runs on

install-dev: $(DEV) ## the same, with the test, lint and bench tools (the lock file's dev group)

# A runtime sync removes the dev tools, so it also forgets they were there; a dev sync includes the runtime.
$(RUNTIME): pyproject.toml uv.lock $(UV)
	@rm -f $(DEV)
	$(UV) sync --frozen --no-dev --all-extras --python $(PYTHON)
	@touch $@

$(DEV): pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --all-extras --python $(PYTHON)
	@touch $@ $(RUNTIME)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

lock: $(UV) ## re-resolve dependencies into uv.lock after editing pyproject.toml
	$(UV) lock

bench: install-dev ## measure throughput and latency (prints figures; see bench/README.md)
	$(VENV)/bin/python -m bench.run

# The load scenario against any running platform: `make up` in another terminal, or LOAD_URL=https://... .
LOAD_URL ?= http://127.0.0.1:8000
LOAD_DURATION ?= 180
LOAD_USERS ?= 200
LOAD_SCENARIO ?= design
LOAD_ARGS ?=
load: install-dev ## the design's load test with Locust (ramp, hold, ramp down); exits 1 when p95 or failures miss
	$(VENV)/bin/locust -f load/locustfile.py --headless --only-summary --host $(LOAD_URL) \
		--duration $(LOAD_DURATION) --users-peak $(LOAD_USERS) --scenario $(LOAD_SCENARIO) $(LOAD_ARGS)

# Every image built on a debootstrap stand-in base (Docker Hub is out of reach here) with its own dockerd, each container's
# health check run with --network none; prints a table. IMAGES="product cart" for some; KEEP_DOCKERD=1 leaves dockerd up.
images: ## build every container image and run its health check (deploy/check/images.sh; needs root for dockerd)
	deploy/check/images.sh $(IMAGES)

clean: ## remove the environment and local data
	rm -rf $(VENV) $(TOOLS) .mce .venv-flink
