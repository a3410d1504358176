# Roumu — the two commands that matter: `make run` and `make test`.
# Only Python 3.11+ and make are assumed; everything else is installed into .venv.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# The venv is (re)installed only when pyproject.toml changed since the last install.
STAMP  := $(VENV)/.installed-stamp
# The machine's PostgreSQL, as CI has it; override for another server.
ROUMU_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.DEFAULT_GOAL := help
.PHONY: help install run test test-pg lint typecheck bench contracts clean distclean backup restore-drill monitor \
	test-security test-concurrency audit k8s test-contracts

help:
	@echo "make run        install, start NATS, migrate, seed a demo tenant, start every service and the gateway"
	@echo "make test       the whole test suite (real nats-server, SQLite databases)"
	@echo "make test-pg    the whole suite against PostgreSQL (ROUMU_TEST_POSTGRES_URL)"
	@echo "make test-security  the security suite (isolation sweep, fuzzing, injection, secrets, faults in the whole flow); MODE=long for nightly"
	@echo "make test-concurrency  the concurrency suite alone on PostgreSQL (part of make test and make test-pg)"
	@echo "make audit      the weekly dependency check: pip-audit of the pinned dependencies (says so when offline)"
	@echo "make lint       ruff and the import-boundary contracts (lint-imports)"
	@echo "make typecheck  mypy (strict)"
	@echo "make bench      the benchmarks"
	@echo "make contracts  check the OpenAPI and event contracts"
	@echo "make k8s        check deploy/k8s/base/processes is current and render the production manifests"
	@echo "make backup     one backup now: every database, the file store and the keys, encrypted, verified, copied"
	@echo "make restore-drill  restore the newest backup into scratch, check it, start it, log in; prints RTO/RPO"
	@echo "make monitor    log in through the gateway, touch every service, check databases, NATS, disk, backups"
	@echo "make clean      remove var/ (local data: databases, NATS store, keys, logs) and caches"
	@echo "make distclean  clean, and remove .venv"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Roumu needs Python 3.11 or newer: rm -rf $(VENV) and run make PYTHON=python3.11 ..."; exit 1; }
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The console (web/) is rebuilt only when its sources changed (ops/console.py keeps a stamp); Node 20.19+.
run: $(STAMP)
	$(BIN)/python -m ops.console build
	$(BIN)/python -m ops.devrun $(if $(REPLICAS),--replicas $(REPLICAS))

test: $(STAMP)
	$(BIN)/python -m ops.console test
	$(BIN)/pytest -q

test-pg: $(STAMP)
	ROUMU_TEST_POSTGRES_URL='$(ROUMU_TEST_POSTGRES_URL)' $(BIN)/pytest -q

# MODE=bounded (default; what make test and CI run) or MODE=long (nightly: many more fuzz cases and payloads).
MODE ?= bounded
test-security: $(STAMP)
	ROUMU_SECURITY_MODE=$(MODE) $(BIN)/pytest -q tests/security

# tests/concurrency runs inside make test and make test-pg too; this runs it alone, on PostgreSQL,
# where the races show (SQLite takes its write lock at BEGIN).
test-concurrency: $(STAMP)
	ROUMU_TEST_POSTGRES_URL='$(ROUMU_TEST_POSTGRES_URL)' $(BIN)/pytest -q tests/concurrency

audit: $(STAMP)
	$(BIN)/python -m tests.security.audit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy shared gateway services ops

bench: $(STAMP)
	$(BIN)/python -m bench.run

contracts: $(STAMP)
	$(BIN)/python -m ops.contracts

# The manifests as `kubectl apply -k` would send them (tests/deploy validates them against the schemas).
k8s: $(STAMP)
	$(BIN)/python -m ops.k8s --check
	kubectl kustomize deploy/k8s/overlays/production

# What a partner's tools make of the contracts (issue #28): no drift, redocly lint with 0 errors on
# every document, the AsyncAPI document through AsyncAPI's own parser, and the example programs (examples/partner/) type-checked against clients
# generated from the partner contract: TypeScript (openapi-typescript + openapi-fetch, tsc --strict)
# and Python (openapi-python-client, mypy --strict).
PARTNER_TS := examples/partner/typescript
PARTNER_PY := var/partner-client
test-contracts: $(STAMP)
	$(BIN)/python -m ops.contracts --check
	cd $(PARTNER_TS) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent lint && npm run --silent asyncapi && npm run --silent typecheck
	rm -rf $(PARTNER_PY) && mkdir -p $(PARTNER_PY)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/openapi-python-client generate --meta none --path contracts/public/partner-api.v1.json \
		--output-path $(PARTNER_PY)/roumu_partner_client --config examples/partner/python/openapi-python-client.yaml
	MYPYPATH=$(PARTNER_PY) $(BIN)/mypy --config-file examples/partner/python/mypy.ini examples/partner/python/partner.py

backup: $(STAMP)
	$(BIN)/python -m ops.backup run

restore-drill: $(STAMP)
	$(BIN)/python -m ops.backup drill

monitor: $(STAMP)
	$(BIN)/python -m ops.monitor

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
