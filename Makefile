# One command per task. Every target sets up what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run token test pgbouncer compose lint console chromium format schema migrate seed bench bench-subscribers bench-cache bench-import bench-limits bench-checks bench-peers bench-export bench-retention bench-webhooks profile lock clean

help:
	@echo "make run     set up, migrate, seed demo data, serve the console on http://127.0.0.1:8000/admin and GraphiQL on /graphql"
	@echo "make test    set up, lint (ruff, mypy --strict) and run the tests"
	@echo "make token   print a new API token for admin@example.com (TOKEN_ARGS=\"--email you@x --expires-in 30\")"
	@echo "make console rebuild the console (/admin) and GraphiQL into app/console/static (needs Node)"
	@echo "make lint | format | schema | migrate | seed | bench | profile | lock | clean"

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "ordergraph needs Python 3.11+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ordergraph serve --migrate --demo-data

# Only the token goes to stdout: TOKEN=$$(make -s token) works.
TOKEN_ARGS ?= --email admin@example.com
token: $(STAMP)
	@$(BIN)/ordergraph token create $(TOKEN_ARGS)

# The third-party clients the tests drive from Node (graphql-ws); again only when the
# lockfile changes. Without npm the install is skipped and those tests skip, saying why.
NODE_CLIENTS := tests/node
NODE_STAMP := $(NODE_CLIENTS)/node_modules/.installed

$(NODE_STAMP): $(NODE_CLIENTS)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(NODE_CLIENTS) --no-audit --no-fund && touch $@; \
	else echo "npm is not on PATH: the Node client tests will skip"; fi

# The console's sources are in console/; its build is committed in app/console/static,
# so `make run` needs no Node. This rebuilds it from the lockfile (tests/console checks
# that the committed build matches the sources).
console:
	npm ci --prefix console --no-audit --no-fund
	npm run build --prefix console

# The browser tests drive Debian's Chromium: installed here when missing and running as
# root; otherwise those tests skip, saying why.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "no /usr/bin/chromium and not root: the browser tests (tests/console) will skip"; fi

# The tests start a real PgBouncer (Debian's package). As root (CI on a fresh clone) it
# is installed when missing; otherwise those tests skip, saying why.
pgbouncer:
	@if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null || \
			 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null)); \
		else echo "pgbouncer is not installed (apt-get install pgbouncer): its tests will skip"; fi; \
	fi

# The tests validate docker-compose.yml with Compose itself: the docker plugin when there
# is one, else Debian's docker-compose (no engine needed), installed here as root.
compose:
	@if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null || \
			 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null)); \
		else echo "no docker compose nor docker-compose (apt-get install docker-compose): its check will skip"; fi; \
	fi

test: lint $(NODE_STAMP) chromium pgbouncer compose
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: $(STAMP)
	$(BIN)/ordergraph schema > schema.graphql

migrate: $(STAMP)
	$(BIN)/ordergraph migrate up

seed: $(STAMP)
	$(BIN)/ordergraph seed $(SEED_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

bench-subscribers: $(STAMP)
	$(BIN)/python -m bench.subscribers $(BENCH_ARGS)

bench-cache: $(STAMP)
	$(BIN)/python -m bench.cache $(BENCH_ARGS)

# 1,000,000 products through ordergraph import, next to raw COPY of the same file.
bench-import: $(STAMP)
	$(BIN)/python -m bench.imports $(BENCH_ARGS)

# Hostile documents against one worker: time to answer, the code, /healthz meanwhile.
bench-limits: $(STAMP)
	$(BIN)/python -m bench.doubling $(BENCH_ARGS)

# The protective checks (cost, rate limits through Redis) on vs off, one worker each.
bench-checks: $(STAMP)
	$(BIN)/python -m bench.suite --limits --only "user(id),products(first: 50)" $(BENCH_ARGS)

# 1,000,000 orders through /export/orders.{csv,ndjson} next to a raw COPY; peak RSS growth.
bench-export: $(STAMP)
	$(BIN)/python -m bench.export $(BENCH_ARGS)

# A million old audit events purged while a writer loops: its longest stall, rows/s.
bench-retention: $(STAMP)
	$(BIN)/python -m bench.retention $(BENCH_ARGS)

# 10,000 events to 10 local webhook endpoints, one slow: deliveries/s, commit-to-delivery.
bench-webhooks: $(STAMP)
	$(BIN)/python -m bench.webhooks $(BENCH_ARGS)

# The suite already runs PostGraphile v5 side by side; kept as an alias.
bench-peers: bench

# py-spy on one worker under wrk: where a bench query's time goes (default Heavy).
profile: $(STAMP)
	$(BIN)/python -m bench.profile $(BENCH_ARGS)

# Re-resolve the pinned versions after editing pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
