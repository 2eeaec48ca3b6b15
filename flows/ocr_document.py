"""The OCR flow for one file where it lies (`tool-ocr process`), and the recipe every file follows:
ingest, pages, OCR, searchable PDF, exports, record."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from core.logs import show_logs
from core.settings import Settings
from tasks.artifacts import summarize
from tasks.export import export_document
from tasks.files import fingerprint, ingest
from tasks.ocr import forget_pages, ocr_pages
from tasks.pdf import searchable_pdf
from tasks.record import is_done, publish_results, record_document, record_failure
from tasks.render import discard_rasters, render

log = logging.getLogger(__name__)
show_logs()  # our INFO lines reach the UI


def run_name() -> str:
    """Runs are named after their file, as operators look for it in the UI."""
    return f"ocr {Path(flow_run.parameters['path']).name}"


@flow(name="ocr-document", flow_run_name=run_name, persist_result=False)
def ocr_document(path: str, force: bool = False) -> dict[str, Any]:
    """OCR one file in place; returns its summary. Fails (after recording why) when it fails."""
    settings = Settings.load()
    sha256 = fingerprint(Path(path), settings)
    if not force and is_done(sha256, settings):
        log.info("%s: already processed (%s), skipped", Path(path).name, sha256[:12])
        return {"status": "skipped", "sha256": sha256, "path": path}
    try:
        return read_document(Path(path), sha256, settings)
    finally:
        publish_results(settings)


def read_document(
    path: Path, sha256: str, settings: Settings, relative_path: str | None = None
) -> dict[str, Any]:
    """The recipe: one file through every step; a failure is recorded, then raised."""
    try:
        source = ingest(path, sha256, settings, relative_path)
        pages = render(source, settings)
        pages = ocr_pages(source, pages, settings)
        searchable_pdf(source, pages, settings)
        outputs = export_document(source, pages, settings)
        summarize(source, pages, outputs, settings.low_confidence, settings.review_share)
        return record_document(source, pages, outputs, settings)
    except Exception as exc:
        record_failure(path, sha256, exc, settings)
        raise
    finally:
        forget_pages(sha256)
        discard_rasters(settings, sha256)
