# Two commands for users: `make bench` runs the default benchmark, `make test` runs the test suite.
# Each sets up its own virtual environment on a fresh machine. torch is pinned in the same pip command
# so that pip takes the CPU wheel rather than a CUDA build with ~3 GB of NVIDIA wheels; constraints.txt
# pins the versions the committed CI baseline was made with.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
CONFIG ?= configs/default.yaml

.PHONY: setup test lint bench gate-example clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt "$(TORCH)" -e '.[dev,ct2]'
	touch $@

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check evalharness tests
	$(PY) -m mypy

bench: setup
	$(VENV)/bin/evalharness run --config $(CONFIG)

# The regression gate on this repository itself: a tiny model built on the fly, checked against the
# committed baseline (exit 1 on a regression). See "Use in CI" in the README.
gate-example: setup
	$(PY) -m evalharness.tiny_model ./build/tiny-marian >/dev/null
	$(VENV)/bin/evalharness check --baseline baselines/ci-example.json --config configs/ci-example.yaml \
		--run-dir build/ci-run --overwrite --junit build/junit.xml --summary-md build/check.md --quiet

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
