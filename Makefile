# Quick start: `make demo` and `make test`. Each sets up .venv once (again only when pyproject.toml changes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/firesale run aave-v3-today

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

test: lint
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

# The benchmarks also need the bench extra (mesa, for benchmarks/mesa_world.py); `make test` does not.
$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest benchmarks -q -s --benchmark-columns=min,mean,rounds -p no:cacheprovider

clean:
	rm -rf $(VENV) firesale-runs .pytest_cache
