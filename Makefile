# The two commands of a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup run test lint bench-ocr bench-hotfolder clean
.DEFAULT_GOAL := help

help:
	@echo "make run              set up, then run the hot-folder service (tool-ocr up)"
	@echo "make test             set up, then run the test suite (real OCR engine)"
	@echo "make lint             ruff and mypy"
	@echo "make bench-ocr        our engine vs Tesseract on generated scan-like pages (ARGS=...)"
	@echo "make bench-hotfolder  the service end to end: latency, a 50-file burst, a restart"

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: setup
	$(BIN)/tool-ocr up

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy tool_ocr tasks flows watch deployments bench

bench-ocr: setup
	$(BIN)/python -m bench.ocr $(ARGS)

bench-hotfolder: setup
	$(BIN)/python -m bench.hotfolder $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
