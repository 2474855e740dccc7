# Two commands for users: `make bench` runs the default benchmark, `make test` runs the test suite.
# Each sets up its own virtual environment on a fresh machine. torch is pinned in the same pip command
# so that pip takes the CPU wheel rather than a CUDA build with ~3 GB of NVIDIA wheels.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
CONFIG ?= configs/default.yaml

.PHONY: setup test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)" -e '.[dev]'
	touch $@

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check evalharness tests
	$(PY) -m mypy

bench: setup
	$(VENV)/bin/evalharness run --config $(CONFIG)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
