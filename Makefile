# make demo     setup, then train on synthetic plates and score on the bundled real sample
# make setup    create .venv and install plateocr with its dev/notebook extras
# make test     setup, then the unit tests, doctests and nbval over the notebooks
# make reports  run 01 -> 02 -> 03 with papermill into reports/ (full parameters)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PYTHONHASHSEED := 0

.PHONY: setup test reports sync demo

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"

test: setup
	$(BIN)/python -m pytest -q tests
	$(BIN)/python -m pytest -q --doctest-modules plateocr
	$(BIN)/python -m pytest -q --nbval --nbval-current-env notebooks/ --nbval-sanitize-with tests/nbval_sanitize.cfg

sync:
	$(BIN)/jupytext --sync notebooks/0*.py

reports: setup
	$(BIN)/python -m plateocr.reports --params reports/params_full.yaml --out reports

# The main job on the embedded data: train from scratch on synthetic plates (validated on held-out
# synthetic ones), score that model on the bundled real sample, then the shipped model on it.
demo: setup
	$(BIN)/python -m plateocr train --data synthetic --out runs/demo --epochs 4 --synthetic-train 20000 \
		--lr 2e-3 --lr-schedule cosine --batch-size 32 --cache --overwrite --quiet
	$(BIN)/python -m plateocr evaluate --data sample --checkpoint runs/demo/best.pt
	$(BIN)/python -m plateocr evaluate --data sample
