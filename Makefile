# Two entry points (see README): `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
HOST   ?= 127.0.0.1
# Tests run on every core (pytest-xdist, at most 4 workers); a test module stays on one worker, so a module's shared
# fixture (a stored audit) is built once. `make test PYTEST_N=0` runs them in this one process.
PYTEST_N ?= auto
XDIST   = $(if $(filter 0,$(PYTEST_N)),-p no:xdist,-n $(PYTEST_N) --maxprocesses 4 --dist loadfile)

.PHONY: run test lint test-slow bench install install-dev requirements clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[svm]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[svm,dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Install everything and start the dashboard on the bundled digits data (http://$(HOST):$(PORT)).
run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

## Install everything, check the code style and run the test suite (browser tests run when Debian's chromium is there).
## Minutes: units on tiny tensors, a few integration runs on the smallest recipe, two Chromium flows.
test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q $(XDIST) --durations=15

## The long integration runs (minutes each), marked `slow`: not part of `make test`; CI runs them too (.ci/run).
test-slow: $(VENV)/.installed-dev
	$(PY) -m pytest -q -m slow $(XDIST) --durations=15

## requirements.txt from pyproject.toml (pip-compile; needs the package index). tests/test_requirements.py checks,
## offline, that the two agree.
requirements: $(VENV)/.installed-dev
	$(VENV)/bin/pip-compile -q --no-emit-index-url --no-emit-find-links --strip-extras \
		--output-file requirements.txt pyproject.toml

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
