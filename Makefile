# make sweep: set up .venv and run the default sweep into results/ring.
# make test:  set up .venv and run the test suite.
# make test-fast: the suite without the tests marked slow (the inner loop).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup sweep test test-fast benchmark

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

sweep: setup
	$(PY) -m experiments.main --config=experiments/configs/ring.py --workdir=results/ring

test: setup
	$(PY) -m pytest -q -n 2 --dist worksteal tests

test-fast: setup
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not slow" tests

benchmark: setup
	$(PY) -m experiments.benchmark --runs=1,12,64,512 --cpu_devices=1,2,4 --vmap_sizes=1,2,4,8
