# The obvious verbs. `make test` and `make run` work on a fresh Debian machine with python3:
# they create .venv, install the project, and (test) install redis-server with apt when missing.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
PORT    ?= 9011
STAMP   := $(VENV)/.installed

.PHONY: install run test lint typecheck openapi bench fuzz clean redis-server chromium

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# One command runs the service. Without REDIS_URL: the embedded, non-durable store (one process).
run: $(STAMP)
	@if [ -z "$$REFRESHD_BOOTSTRAP_API_KEY" ]; then \
	  key=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))'); \
	  echo "refreshd: API key for this run (every permission): $$key"; \
	  export REFRESHD_BOOTSTRAP_API_KEY=$$key; \
	fi; \
	echo "refreshd: serving on http://127.0.0.1:$(PORT)  (API docs: /api/docs)"; \
	exec $(BIN)/granian --interface wsgi --host 127.0.0.1 --port $(PORT) \
	  --workers $$( [ -n "$$REDIS_URL" ] && echo $${WEB_CONCURRENCY:-2} || echo 1 ) wsgi:app

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server with apt"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# The browser tests drive Debian's chromium (Playwright's own browser download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium with apt"; \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# One command runs the tests: lint, types, then the whole suite against its own redis-server.
test: $(STAMP) redis-server chromium lint typecheck
	$(BIN)/pytest

# A longer fuzz of the whole spec than the test suite's (a new seed each run).
fuzz: $(STAMP) redis-server
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/pytest -s tests/faults/test_fuzz.py

openapi: $(STAMP)
	$(BIN)/python -m app.openapi openapi/openapi.json

bench: $(STAMP) redis-server
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
