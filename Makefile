# The two commands: `make run` serves the store, `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgres lint format install translations messages clean serve bench smoke

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations

translations: $(VENV)/.installed
	@$(BIN)/pybabel compile -d b2bshop/translations -f >/dev/null

# Re-extract the catalogs after changing user-facing strings.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output -o b2bshop/translations/messages.pot .
	$(BIN)/pybabel update -N -i b2bshop/translations/messages.pot -d b2bshop/translations

run: install
	$(FLASK) db upgrade
	$(FLASK) demo --if-empty
	@echo "b2bshop: http://$(HOST):$(PORT)  (sign in as buyer@contoso.example / demo)"
	@# Links in emails point where this server answers, unless STORE_URL says otherwise.
	STORE_URL=$${STORE_URL:-http://$(HOST):$(PORT)} SESSION_COOKIE_SECURE=0 \
		$(FLASK) run --host $(HOST) --port $(PORT) --no-reload --with-threads

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r b2bshop tasks --severity-level medium

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-sqlite: install
	$(BIN)/pytest

test-postgres: install
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest

# Both databases when PostgreSQL answers (CI always has it: .ci/run starts it).
test: install lint
	$(BIN)/pytest
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		echo "== again on PostgreSQL =="; \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest && \
		echo "== the production stack (make smoke) ==" && \
		SMOKE_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest tests/deploy; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not answering; CI needs it" >&2; exit 1; \
	else \
		echo "PostgreSQL is not answering: skipped the PostgreSQL run"; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts

# The Procfile's stack on this machine: gunicorn (2 workers), 2 RQ workers and cron on the local
# PostgreSQL (database b2bshop, created when missing) and Redis; Ctrl-C stops them all.
serve: install
	@export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/b2bshop \
		REDIS_URL=redis://127.0.0.1:6379/0 WEB_CONCURRENCY=2 SESSION_COOKIE_SECURE=0 \
		HOST=$(HOST) PORT=$(PORT) STORE_URL=http://$(HOST):$(PORT); \
	psql -h 127.0.0.1 -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'b2bshop'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE b2bshop' \
	&& $(FLASK) db upgrade && $(FLASK) demo --if-empty \
	&& echo "b2bshop: http://$(HOST):$(PORT)  (buyer@contoso.example / demo; Ctrl-C stops)" \
	&& exec $(BIN)/python deploy/serve.py

# The stack under wrk on the bench-data set (database b2bshop_bench, filled when empty: ~3 min);
# writes bench/REPORT.md. Installs Debian's wrk when missing.
bench: install
	bash bench/install-wrk.sh
	$(BIN)/python bench/report.py

# The stack booted and driven over HTTP (tests/deploy) on a fresh PostgreSQL database and Redis;
# fails when either is down.
smoke: install
	SMOKE_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest tests/deploy
