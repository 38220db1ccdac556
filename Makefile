# The README's commands. Every target runs `setup` first; setup is idempotent and fast when warm.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS ?= $(HOME)/.cache/neon-checkpoints-tools
export NEON_CKPT_TOOLS := $(TOOLS)
PYTEST_ARGS ?= --durations=40

.PHONY: help setup setup-system setup-venv setup-tools setup-compat lint test bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: setup-system setup-venv setup-tools setup-compat ## install Debian packages, .venv, the toolchain and Neon's clients (idempotent)

setup-system: ## Debian packages: PostgreSQL server, btrfs-progs, openssl
	@hack/install-system-packages.sh

setup-venv: $(BIN)/.installed ## .venv with the locked dependencies and the project (editable)

$(BIN)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

setup-tools: ## kube-apiserver, kube-controller-manager, etcd, pulumi, helm built from Go modules into $(TOOLS)
	@hack/build-tools.sh

setup-compat: setup-venv ## Neon's own clients for tests/compat: neonctl and @neondatabase/api-client (npm), neon-api (PyPI), by their locks
	@PYTHON=$(CURDIR)/$(BIN)/python hack/install-compat-clients.sh

lint: setup-venv ## ruff, mypy --strict, and the import-linter layer contracts (pyproject.toml)
	$(BIN)/ruff check operator emulator pulumi_stack tests devenv
	$(BIN)/ruff format --check operator emulator pulumi_stack tests devenv
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: setup lint ## the whole test suite on real components
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup ## benchmarks: figures and side-by-side ratios
	$(BIN)/python -m tests.bench $(BENCH_ARGS)

demo: setup ## the agent checkpoint story on the local emulator (KEEP=1 leaves it running)
	$(BIN)/python -m devenv.demo $(if $(KEEP),--keep,)

clean: ## remove .venv and caches (not the toolchain cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
