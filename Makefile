# wisbot: `make demo` and `make test` work on a fresh machine with Python 3.11+ and git.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= postgres,dev,watch,slack,matrix,e2e
# The Matrix tests start a real Synapse from the test environment.
TEST_EXTRA_PACKAGES ?= matrix-synapse

.PHONY: venv demo test lint typecheck bench clean

include mk/probes.mk
include mk/exchange.mk
include mk/i18n.mk

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "wisbot needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

TEST_STAMP := $(VENV)/.installed-test
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q $(TEST_EXTRA_PACKAGES)
	touch $(TEST_STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/wisbot demo

# Two workers (pytest-xdist): the suite waits on Synapse, PostgreSQL and brokers more than
# it computes. Tests on the one local Mosquitto share an xdist group (tests/conftest.py).
PYTEST_WORKERS ?= 2
test: $(TEST_STAMP) pycsw-env
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check wisbot tests benchmarks
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(TEST_STAMP) pycsw-env
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
