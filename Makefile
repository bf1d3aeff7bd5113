# The two quick-start commands are `make run` and `make test` (see README.md).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# The suite runs sealed from the network (scripts/sealed) when make runs as root; `make test SEAL=`
# runs it on this machine's network instead (then NETSTATS_TEST_* name PostgreSQL and Redis).
SEAL ?= $(shell [ "$$(id -u)" -eq 0 ] && echo scripts/sealed)

.PHONY: run test deps lint system-deps assets install wheel

## run: install, then start web server and worker on the embedded defaults (SQLite, SqliteHuey)
run: install assets
	$(BIN)/netstats up

## test: install everything the suite needs (with network), lint, then run the whole suite sealed
test: deps lint
	$(SEAL) $(BIN)/pytest $(PYTEST_ARGS)

## deps: everything that needs the package registries, done before the suite is sealed
deps: system-deps install assets

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[postgres,redis,test]'
	touch $@

## wheel: build dist/netstats-*.whl, which carries the migrations and the front-end assets
wheel: install assets
	$(BIN)/pip wheel -q --no-deps -w dist .

assets: netstats/static/vendor/.built

netstats/static/vendor/.built: package.json package-lock.json scripts/vendor-assets.mjs
	npm ci --no-audit --no-fund --loglevel=error
	npm run --silent build

system-deps:
	scripts/install-system-deps
