# The two commands of the README: `make run` and `make test`. Everything else they need
# (a virtual environment with the locked dependencies) is built on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test check lint typecheck unit install lock clean mutate messages screenshots docs

install: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

# The daemon and the editorial desk side by side on the same queue; Ctrl-C stops both. A
# first administrator is made (its password printed once) when the queue has no one yet.
run: $(STAMP)
	$(BIN)/relais db upgrade
	$(BIN)/relais users first-admin
	$(BIN)/relais web & desk=$$!; trap 'kill $$desk 2>/dev/null' EXIT INT TERM; $(BIN)/relais run

test: lint typecheck unit

# The edit-test loop: lint, types and the tests that start no process and need no server.
check: lint typecheck
	$(BIN)/pytest -q -m "not slow and not postgresql" tests/unit tests/connectors

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml; docs/mutation.md).
# Slow on two cores, so not part of `make test`. MUTANTS narrows the run to some modules,
# e.g. make mutate MUTANTS='scheduler.rules.daily_cap* scheduler.delivery.states*'
mutate: $(STAMP)
	-$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python -m tests.mutation_report --survivors

# Re-pin the dependencies after editing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements-dev.lock

clean:
	rm -rf $(VENV) queue.db queue.db-wal queue.db-shm queue.db.lock processed rejected state out public mutants

# Merge new messages of the code and templates into the French and English catalogues.
messages: $(STAMP)
	$(BIN)/python -m scheduler.i18n.extract

# Write docs/configuration.md again from the config models (a test fails while it is stale).
docs: $(STAMP)
	$(BIN)/python -m scheduler.config_reference

# The desk's screenshots in docs/desk/, taken by the browser tests in Debian's chromium.
screenshots: $(STAMP)
	RELAIS_DESK_SCREENSHOTS=$(CURDIR)/docs/desk $(BIN)/pytest -q tests/browser
