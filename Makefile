# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint unit check system-deps migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## run: create .venv, install, apply migrations, start the CSMS (OCPP :9000, HTTP :8000)
run: $(VENV)/.installed
	$(BIN)/csms migrate
	exec $(BIN)/csms serve

migrate: $(VENV)/.installed
	$(BIN)/csms migrate

## system-deps: PostgreSQL server binaries for the repository tests (Debian package)
system-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing postgresql (Debian package) for the PostgreSQL tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "PostgreSQL server binaries missing: run 'sudo apt-get install postgresql'"; exit 1; \
	fi

## lint: ruff, formatting, mypy, import contracts
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test: create .venv if needed, install with dev extras, run lint and the whole test suite
test: $(VENV)/.dev-installed system-deps lint
	CSMS_REQUIRE_POSTGRES=1 $(BIN)/pytest -q

unit: $(VENV)/.dev-installed
	$(BIN)/pytest -q tests/unit

.PHONY: fuzz

## fuzz: the fuzz properties at length: 10,000 OCPP frames (both versions) and 100 schemathesis
##       examples per HTTP operation, random seeds (make test runs them small and derandomized)
fuzz: $(VENV)/.dev-installed
	CSMS_FUZZ=long $(BIN)/pytest -q -p no:cacheprovider tests/fuzz

.PHONY: bench bench-smoke
BENCH_ARGS ?=

## bench: the benchmarks at the issue's sizes, 3 runs each; JSON + Markdown in bench/results/
##        (BENCH_ARGS="--db postgres" or "--only throughput --size medium": see python -m bench -h)
bench: $(VENV)/.installed
	$(BIN)/python -m bench --size full --runs 3 $(BENCH_ARGS)

## bench-smoke: every benchmark once at a tiny size (about a minute), same code path
bench-smoke: $(VENV)/.installed
	$(BIN)/python -m bench --size small --runs 1 $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
