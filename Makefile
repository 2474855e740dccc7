# Two commands for users: `make bench` runs the default benchmark, `make test` runs the test suite.
# Each sets up its own virtual environment on a fresh machine. constraints.txt pins the versions the
# committed CI baseline was made with. Where pip would take torch's CUDA build (a stock pip: ~3 GB of
# NVIDIA wheels), `make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu` installs CPU torch first;
# on the machines this project is developed on, a local wheel store serves the CPU wheel to plain pip.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
CONFIG ?= configs/default.yaml
# Extras installed by setup; CI adds ray (the Ray executor and its tests, ~590 MB): make setup EXTRAS=dev,ct2,ray
EXTRAS ?= dev,ct2

.PHONY: setup test test-fast lint bench demo gate-example clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install -q "$(TORCH)" --index-url "$(TORCH_INDEX)")
	$(PY) -m pip install -q -c constraints.txt "$(TORCH)" -e '.[$(EXTRAS)]'
	touch $@

test: setup
	$(PY) -m pytest

# The quick loop while editing: everything but the tests that build or run a model (about a minute).
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check evalharness tests
	$(PY) -m mypy

# A random-weight tiny model through the whole pipeline and its HTML report (seconds; the scores are noise).
demo: setup
	$(VENV)/bin/evalharness demo --dir build/demo

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
