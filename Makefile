# spae: the two commands a user needs are `make book` and `make test`; both set up everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Determinism: torch CPU results depend on the thread count, so pin it for tests and golden runs.
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export PYTHONHASHSEED := 0
export SPAE_ROOT := $(CURDIR)

.PHONY: setup test test-slow book bench clean

setup: $(STAMP)

# Re-installs only when the project's pins change; a second `make setup` is a no-op.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "spae needs Python 3.11+, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[data,book,test]'
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: setup
	$(BIN)/python -m pytest -m slow -q

bench: setup
	$(BIN)/python benchmarks/bench_training.py

book: setup
	$(BIN)/jupyter-book build . -W --keep-going

clean:
	rm -rf _build .pytest_cache
