# chainbreaker: every entry point. `make demo` runs the main job, `make test` the whole suite.
# Both do all setup themselves on a fresh machine: a venv with the pinned dependencies, the
# compiled build of processors/, Apache Kafka (KRaft) from Maven Central, and redis-server,
# Java 17+ and Maven from the Debian/Ubuntu archive (stack/packages.py), bound to 127.0.0.1.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup stack-up stack-down stack-status lint format bench clean

# The demo also runs Prometheus (Debian package) against the worker; CB_PROMETHEUS=false skips it.
demo: setup                          ## stack + worker + simulated traffic, printing alerts
	CB_PROMETHEUS=$${CB_PROMETHEUS:-true} $(BIN)/chainbreaker demo

test: setup stack-up                 ## lint, unit and integration tests against the real stack
	$(BIN)/chainbreaker stack browser
	$(BIN)/ruff check .
	$(BIN)/mypy processors
	$(BIN)/python -m pytest -q

# The venv, then the compiled build of processors/ (a no-op while it matches the sources).
setup: $(STAMP)
	@$(BIN)/python scripts/build_native.py

$(STAMP): pyproject.toml scripts/setup-venv.sh
	PYTHON=$(PYTHON) scripts/setup-venv.sh $(VENV)
	touch $(STAMP)

stack-up: setup
	$(BIN)/chainbreaker stack up

stack-down:
	@if [ -x $(BIN)/chainbreaker ]; then $(BIN)/chainbreaker stack down; fi

stack-status: setup
	$(BIN)/chainbreaker stack status

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy processors
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup stack-up                ## throughput and latency benchmarks (prints figures)
	PYTHON=$(PYTHON) bench/peer-venv.sh .venv-peer
	$(BIN)/python -m bench.run

clean: stack-down
	rm -rf $(VENV) .venv-peer .stack .build .pytest_cache .ruff_cache .mypy_cache *.egg-info
