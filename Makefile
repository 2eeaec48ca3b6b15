# The two commands of a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help setup run test lint docs bench-ocr bench-hotfolder bench-robustness clean
.DEFAULT_GOAL := help

help:
	@echo "make run              set up, then run the hot-folder service (tool-ocr up)"
	@echo "make test             set up, then run the test suite (real OCR engine)"
	@echo "make lint             ruff (check, format), mypy and the import contract (layers)"
	@echo "make docs             regenerate docs/settings.md from the settings class"
	@echo "make bench-ocr        our engine vs Tesseract: the real dev set per kind, generated pages"
	@echo "make bench-hotfolder  the service vs its raw engine and OCRmyPDF: latency, bursts, 1000 files"
	@echo "make bench-robustness the awkward real files of ../shared/corpus/robustness at once"
	@echo "                      (each bench takes ARGS=..., see --help)"

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
	$(BIN)/ruff format --check .
	$(BIN)/mypy core engine store tasks flows watch deployments tool_ocr bench
	$(BIN)/lint-imports

docs: setup
	$(BIN)/python -m core.settings > docs/settings.md

bench-ocr: setup
	$(BIN)/python -m bench.ocr $(ARGS)

bench-hotfolder: setup
	$(BIN)/python -m bench.hotfolder $(ARGS)

bench-robustness: setup
	$(BIN)/python -m bench.campaign $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
