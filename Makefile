# The two quick-start commands are `make run` and `make test` (see README.md).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# The suite runs sealed from the network (scripts/sealed) when make runs as root; `make test SEAL=`
# runs it on this machine's network instead (then NETSTATS_TEST_* name PostgreSQL and Redis).
SEAL ?= $(shell [ "$$(id -u)" -eq 0 ] && echo scripts/sealed)

.PHONY: run test deps lint system-deps assets install wheel wheelhouse

## run: install, then start web server and worker on the embedded defaults (SQLite, SqliteHuey)
run: install assets
	$(BIN)/netstats up

## test: install everything the suite needs (with network), lint, then run the whole suite sealed
# pip inside finds packages in the wheelhouse only (tests/test_wheel.py installs the wheel).
test: deps lint
	PIP_NO_INDEX=1 PIP_FIND_LINKS=$(abspath $(WHEELHOUSE)) $(SEAL) $(BIN)/pytest $(PYTEST_ARGS)

## deps: everything that needs the package registries, done before the suite is sealed
deps: system-deps install assets wheelhouse

# The project's dependencies and build requirements as wheels, for pip without an index.
WHEELHOUSE := $(VENV)/wheelhouse
wheelhouse: $(WHEELHOUSE)/.built

$(WHEELHOUSE)/.built: $(VENV)/.installed netstats/static/vendor/.built
	$(BIN)/pip wheel -q --prefer-binary -w $(WHEELHOUSE) . setuptools wheel
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[postgres,redis,fast,test]'
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
