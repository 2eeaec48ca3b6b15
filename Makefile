# The two commands of a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint clean
.DEFAULT_GOAL := help

help:
	@echo "make run    set up, then OCR everything in the hot folder (TOOL_OCR_HOME/inbox)"
	@echo "make test   set up, then run the test suite (real OCR engine)"
	@echo "make lint   ruff and mypy"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/tool-ocr process $${TOOL_OCR_HOME:-data}/inbox

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy tool_ocr tasks flows

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
