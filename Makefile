# `make run`: set up and start the bot (SQLite; no other server needed).
# `make test`: set up and run the whole test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run console test catalogs bench model

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	@test -f .env || cp .env.example .env
	$(PY) -m bot migrate

run: setup
	$(PY) -m bot run

console: setup
	$(PY) -m bot console

test: $(VENV)/.installed
	$(PY) -m pytest

# Retrain the question model (locales/data/train/, thresholds from cross-validation) and
# the Latin-script language model (and its weight against the word lists)
# (scikit-learn, the `train` extra, is installed for this only).
model: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[train]'
	$(PY) -m locales.train
	$(PY) -m locales.train_lang

catalogs: $(VENV)/.installed
	$(PY) -m locales.update

bench: $(VENV)/.installed
	$(PY) bench/run_all.py
