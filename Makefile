# Two commands: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# Customer links (survey, unsubscribe) point where `make run` serves, unless PUBLIC_BASE_URL is set.
run demo: export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test bench lint format install migrate demo serve browsers clean voice-sdk voice-sdk-check translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The customer-facing catalogs (app/translations/<lang>/LC_MESSAGES/messages.po), compiled at install;
# the compiled .mo files are never committed. A changed .po is compiled again by the next make.
CATALOGS := $(wildcard app/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -D messages -l $* -i $< -o $@

install: $(STAMP) $(COMPILED)

# After marking new strings: extract them and merge them into every catalog (then translate the new ones).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --no-location --omit-header --sort-output \
		-o app/translations/messages.pot app surveys campaigns
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching -w 110

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load --if-empty

run: demo
	@echo
	@echo "Winback is serving on http://$(HOST):$(PORT)  (Ctrl-C to stop); links to customers use $$PUBLIC_BASE_URL"
	$(FLASK) run --host $(HOST) --port $(PORT)

# The suite runs on TEST_WORKERS processes (pytest-xdist), one test file per process at a time, so a
# module's shared fixtures (the demo copy) stay in one process. Each process has its own database:
# SQLite in its temporary folder, PostgreSQL TEST_DATABASE_URL's name plus the worker id (tests/conftest.py).
TEST_WORKERS ?= 2
test: install
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

# Each bench prints its own table and a JSON line; bench/summary.py then prints one table of every target.
bench: install
	@out=$$(mktemp -d); \
	for script in bench/*_bench.py; do \
		name=$$(basename $$script .py); echo "== $$script"; \
		{ $(BIN)/python $$script; echo $$? > $$out/$$name.status; } | tee $$out/$$name.out; \
		[ "$$(cat $$out/$$name.status)" = 0 ] || { echo "$$script failed"; exit 1; }; \
	done; \
	$(BIN)/python bench/summary.py $$out

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python .ci/dead_code.py

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The Twilio Voice JavaScript SDK is committed, built, under app/static/vendor/twilio-voice (runtime needs
# no npm). package.json pins its exact version and package-lock.json its integrity; these re-fetch it.
VOICE_SDK := app/static/vendor/twilio-voice
voice-sdk:
	npm ci --ignore-scripts --no-audit --no-fund
	cp node_modules/@twilio/voice-sdk/dist/twilio.min.js node_modules/@twilio/voice-sdk/LICENSE.md $(VOICE_SDK)/

voice-sdk-check:
	npm ci --ignore-scripts --no-audit --no-fund
	cmp node_modules/@twilio/voice-sdk/dist/twilio.min.js $(VOICE_SDK)/twilio.min.js
	cmp node_modules/@twilio/voice-sdk/LICENSE.md $(VOICE_SDK)/LICENSE.md
	@echo "$(VOICE_SDK) matches package-lock.json"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules
