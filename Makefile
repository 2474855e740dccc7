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
# One stamp per set of extras: asking for other extras installs them into the existing .venv
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: setup comet-setup test test-fast lint bench demo gate-example sacrebleu-tests clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(if $(TORCH_INDEX),$(PY) -m pip install -q "$(TORCH)" --index-url "$(TORCH_INDEX)")
	$(PY) -m pip install -q -c constraints.txt "$(TORCH)" -e '.[$(EXTRAS)]'
	touch $@

# COMET's own environment (unbabel-comet needs transformers<5 and numpy<2; see "COMET" in the README), made
# where evalharness looks for it, <user cache dir>/comet-env (one place decides: comet/env.py's default_venv),
# so the COMET tests run after it with no variable set. Running it again re-checks the environment.
comet-setup: setup
	$(VENV)/bin/evalharness metrics setup comet $(if $(TORCH_INDEX),--torch-index "$(TORCH_INDEX)")

test: setup
	$(PY) -m pytest

# The quick loop while editing: everything but the tests that build or run a model (190 s on 2 cores, measured).
test-fast: setup
	$(PY) -m pytest -m "not slow"

lint: setup
	$(PY) -m ruff check evalharness tests
	$(PY) -m mypy

# A random-weight tiny model through the whole pipeline and its HTML report (seconds; the scores are noise).
demo: setup
	$(VENV)/bin/evalharness demo   # in ./evalharness-demo, where the demo config finds the model

bench: setup
	$(VENV)/bin/evalharness run --config $(CONFIG)

# The regression gate on this repository itself: a tiny model built on the fly, checked against the
# committed baseline (exit 1 on a regression). See "Use in CI" in the README.
gate-example: setup
	$(PY) -m evalharness.tiny_model ./build/tiny-marian >/dev/null
	$(VENV)/bin/evalharness check --baseline baselines/ci-example.json --config configs/ci-example.yaml \
		--run-dir build/ci-run --overwrite --junit build/junit.xml --summary-md build/check.md --quiet

# sacrebleu's own test data (its significance tests' WMT17 system outputs, 1.7 MB), from the source
# distribution of the installed version on PyPI; tests/test_sacrebleu_suite.py reads it from
# EVALHARNESS_SACREBLEU_TESTS=build/sacrebleu-tests and skips without it.
sacrebleu-tests: setup
	rm -rf build/sacrebleu-sdist && mkdir -p build/sacrebleu-sdist build/sacrebleu-tests
	$(PY) -m pip download -q --no-deps --no-binary :all: -d build/sacrebleu-sdist \
		"sacrebleu==$$($(PY) -c 'import sacrebleu; print(sacrebleu.__version__)')"
	tar -xzf build/sacrebleu-sdist/sacrebleu-*.tar.gz -C build/sacrebleu-sdist
	cp build/sacrebleu-sdist/sacrebleu-*/test/wmt17_en_de_systems.pkl.bz2 build/sacrebleu-tests/

# clean leaves the COMET environment, which lives in the user cache dir and serves every checkout
# (rm -rf ~/.cache/evalharness/comet-env to remove it).
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
