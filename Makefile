# make demo     setup, then train on synthetic plates and score on the bundled real sample
# make setup    create .venv and install plateocr with its dev/notebook extras (exact pins: constraints.txt)
# make test     setup, then ruff, mypy, the unit tests, doctests and nbval over the notebooks
# make test-fast  ruff, mypy and the unit tests not marked slow (the edit loop, about a minute)
# make reports  run 01 -> 02 -> 03 with papermill into reports/ (full parameters)
# make notebooks  re-run the notebooks' stored outputs (the quick run CI checks with nbval)
# make lab      JupyterLab on notebooks/, where notebooks/*.py open as notebooks
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONHASHSEED := 0

.PHONY: setup test test-fast lint reports sync demo notebooks lab

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# JupyterLab reads default_setting_overrides.json from every labconfig folder on the Jupyter config
# path; the venv's etc/jupyter is one, so .jupyter/labconfig (the repo's copy) is installed there.
setup: $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	mkdir -p $(VENV)/etc/jupyter/labconfig
	cp .jupyter/labconfig/default_setting_overrides.json $(VENV)/etc/jupyter/labconfig/
	touch $(VENV)/.installed

lab: setup
	$(BIN)/jupyter lab notebooks/

# The edit loop re-installs only when the declared dependencies change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check plateocr bench tests
	$(BIN)/ruff format --check plateocr bench tests
	$(BIN)/mypy plateocr

test: setup lint
	$(BIN)/python -m pytest -q --durations=10 tests
	$(BIN)/python -m pytest -q --doctest-modules plateocr
	$(BIN)/python -m pytest -q --nbval --nbval-current-env notebooks/ --nbval-sanitize-with tests/nbval_sanitize.cfg

test-fast: lint
	$(BIN)/python -m pytest -q -m "not slow" --durations=5 tests

sync:
	$(BIN)/jupytext --sync notebooks/0*.py

# 02 before 03: 03 reads 02's synthetic-only checkpoint from runs/notebooks/02_train.
notebooks: setup
	cd notebooks && for nb in 01_explore 02_train 03_error_analysis; do \
		../$(BIN)/jupyter nbconvert --to notebook --execute --inplace $$nb.ipynb || exit 1; done

reports: setup
	$(BIN)/python -m plateocr.research.reports --params reports/params_full.yaml --out reports

# The main job on the embedded data: train from scratch on synthetic plates (validated on held-out
# synthetic ones), score that model on the bundled real sample, then the shipped model on it (which
# never trained on those plates).
demo: setup
	$(BIN)/python -m plateocr train --data synthetic --out runs/demo --epochs 3 --synthetic-train 12000 \
		--lr 2e-3 --lr-schedule cosine --batch-size 32 --cache --amp --channels-last --overwrite --quiet
	$(BIN)/python -m plateocr evaluate --data sample --checkpoint runs/demo/best.pt
	$(BIN)/python -m plateocr evaluate --data sample
