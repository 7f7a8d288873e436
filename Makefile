# Coalesce developer commands. `make run` and `make test` are all a newcomer needs: they start a project-local
# PostgreSQL under target/ when DATABASE_URL is not set (see scripts/db.sh).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ifeq ($(strip $(DATABASE_URL)),)
  export DATABASE_URL := $(shell scripts/db.sh url)
  DB_START := env -u DATABASE_URL scripts/db.sh start
  DB_STOP := env -u DATABASE_URL scripts/db.sh stop
else
  DB_START := @echo "db: using DATABASE_URL"
  DB_STOP := @echo "db: DATABASE_URL is set; nothing to stop"
endif

CARGO ?= cargo
COALESCE := target/debug/coalesce
COALESCE_BIND ?= 127.0.0.1:3000
COALESCE_METRICS_BIND ?= 127.0.0.1:9464

.PHONY: help db db-stop build run test dedupe-eval lint fmt layering deny audit fuzz openapi openapi-check schema schema-check bench bench-smoke \
  mutants mutants-domain mutants-application ci ha ha-stop test-ha

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

db: ## Start the project-local PostgreSQL (idempotent)
	$(DB_START)

db-stop: ## Stop the project-local PostgreSQL
	$(DB_STOP)

build: ## Build the coalesce binary (debug)
	$(CARGO) build --bin coalesce

run: db build ## Serve the API (creates a demo account and token on an empty database)
	@$(COALESCE) migrate >/dev/null
	@$(COALESCE) admin demo | python3 -c 'import json,sys; d=json.load(sys.stdin); \
	  print("demo: account %(account_id)s, inbox %(inbox_id)s, administrator %(email)s\ndemo: api_access_token: %(access_token)s" % d if d["created"] \
	  else "demo: database already provisioned; use your token or `coalesce admin create-user`")'
	@echo "Swagger UI: http://$(COALESCE_BIND)/swagger-ui/"
	@echo "$(if $(strip $(COALESCE_METRICS_BIND)),Metrics (Prometheus): http://$(COALESCE_METRICS_BIND)/metrics,Metrics: off (COALESCE_METRICS_BIND is empty))"
	@echo "Webhooks may reach private addresses here (COALESCE_WEBHOOK_ALLOW_PRIVATE=true, for local receivers)"
	COALESCE_BIND=$(COALESCE_BIND) COALESCE_METRICS_BIND=$(COALESCE_METRICS_BIND) COALESCE_WEBHOOK_ALLOW_PRIVATE=$${COALESCE_WEBHOOK_ALLOW_PRIVATE:-true} $(COALESCE) serve

test: db ## Run every test against real PostgreSQL
	$(CARGO) test --workspace

fmt: ## Format the code
	$(CARGO) fmt --all

lint: ## fmt check, clippy -D warnings, layering check, import circles, cargo-deny (licenses, bans, sources)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/check-layering.sh
	scripts/check-import-cycles.py
	scripts/deny.sh

deny: ## cargo-deny: licenses, bans, sources (from the per-machine tool cache, see scripts/tools.sh)
	scripts/deny.sh

audit: ## cargo-deny: RustSec advisories (needs the advisory database's git host; not in CI)
	scripts/deny.sh advisories

FUZZ_EXAMPLES ?= 25
fuzz: db ## Fuzz the API with schemathesis from openapi/openapi.json: no 5xx, responses match the schema
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) scripts/fuzz.sh

layering: ## Only the layering check
	scripts/check-layering.sh

openapi: ## Rewrite openapi/openapi.json from the code
	$(CARGO) run --quiet --bin coalesce -- openapi > openapi/openapi.json

openapi-check: ## Fail when openapi/openapi.json differs from the code
	$(CARGO) run --quiet --bin coalesce -- openapi | diff -u openapi/openapi.json - \
	  && echo "openapi: openapi/openapi.json is up to date"

schema: db ## Regenerate schema.rs from the migrations (diesel CLI)
	scripts/schema-check.sh write

schema-check: db ## Fail when schema.rs differs from the migrations
	scripts/schema-check.sh

# A local pg_auto_failover formation (monitor and two data nodes on ports COALESCE_HA_PORT_BASE..+2, default
# 54370-54372, data in target/ha); `make ha` prints the multi-host DATABASE_URL to serve on. See scripts/ha.sh
# and README.md, "Running highly available".
ha: ## Start a highly available PostgreSQL (pg_auto_failover: monitor, primary, synchronous standby); prints DATABASE_URL
	@scripts/ha.sh start

ha-stop: ## Stop the formation of `make ha` (its data stays in target/ha)
	@scripts/ha.sh stop

test-ha: ## Failover under load on a fresh formation: a planned switchover and a kill -9 of the primary lose no acknowledged write
	scripts/test-ha.sh

# The benchmark runs its own PostgreSQL (port COALESCE_BENCH_PGPORT, default 54339, data in target/bench/pgdata),
# never the cluster `make test` uses, and ignores DATABASE_URL. See scripts/bench.sh and README.md.
dedupe-eval: db ## Precision and recall of the duplicate suggestions on a labelled population (fails under target)
	$(CARGO) run --quiet -p coalesce-tests --bin dedupe-eval

bench: ## Benchmark the service against PostgreSQL's floors (release build; about 15 minutes with the large account)
	scripts/bench.sh full

# bench-smoke uses the debug binaries on purpose: CI has just built them for `make test`, while the release
# profile (fat LTO, one codegen unit) costs minutes more on 2 cores. The smoke run checks that the pipeline works
# (seed, load, floor, scaling, report), not the numbers.
bench-smoke: ## The benchmark with tiny sizes and 2 s per operation (in CI, so it never rots)
	scripts/bench.sh smoke

# Mutation testing (cargo-mutants, from the tool cache): each crate's mutants against that crate's own tests only,
# failing below the share of viable mutants its tests must catch. Equivalent mutants are excluded, with their
# reasons, in .cargo/mutants.toml. Reports land in target/mutants/<crate>/mutants.out.
mutants: mutants-domain mutants-application ## cargo-mutants per crate: domain >= 95%, application >= 85% caught

mutants-domain: ## cargo-mutants on domain with its own tests (>= 95% caught; about 90 s; in `make ci`)
	scripts/mutants.sh domain 95

mutants-application: ## cargo-mutants on application with its own tests (>= 85% caught; several minutes)
	scripts/mutants.sh application 85

# `make ci` runs each step as its own make through scripts/timed.sh, which appends "step seconds outcome" to
# CI_TIMES; .ci/run prints that table at the end. The database is started once here: the steps inherit its
# DATABASE_URL. The loop stops at the first failing step, as a list of prerequisites would.
CI_TIMES ?= target/ci-times.txt
CI_STEPS := lint test test-ha mutants-domain bench-smoke openapi-check schema-check fuzz
ci: ## What .ci/run runs (each step timed into target/ci-times.txt)
	@mkdir -p $(dir $(CI_TIMES)) && rm -f $(CI_TIMES)
	$(DB_START)
	@for step in $(CI_STEPS); do \
	  scripts/timed.sh $(CI_TIMES) $$step $(MAKE) --no-print-directory $$step || exit 1; \
	done
