"""The OCR flow: one file through ingest, pages, OCR, searchable PDF, exports and record."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from core.logs import show_logs
from core.settings import Settings
from core.values import Page, Source
from tasks.artifacts import PageProgress, summarize
from tasks.export import export_document
from tasks.files import fingerprint, ingest
from tasks.ocr import ocr_page
from tasks.pdf import searchable_pdf
from tasks.record import is_done, publish_results, record_document, record_failure
from tasks.render import render

log = logging.getLogger(__name__)
show_logs()  # our INFO lines reach the UI


def run_name() -> str:
    """Runs are named after their file, as operators look for it in the UI."""
    return f"ocr {Path(flow_run.parameters['path']).name}"


@flow(name="ocr-document", flow_run_name=run_name)
def ocr_document(
    path: str, force: bool = False, relative_path: str | None = None
) -> dict[str, Any]:
    """OCR one file; returns its summary. Fails (after recording why) when the file fails.

    `relative_path` is where the file was dropped in the hot folder, kept as metadata.
    """
    settings = Settings.load()
    sha256 = fingerprint(Path(path), settings)
    if not force and is_done(sha256, settings):
        log.info("%s: already processed (%s), skipped", Path(path).name, sha256[:12])
        return {"status": "skipped", "sha256": sha256, "path": path}
    try:
        source = ingest(Path(path), sha256, settings, relative_path)
        pages = render(source, settings)
        pages = read_pages(source, pages, settings)
        searchable_pdf(source, pages, settings)
        outputs = export_document(source, pages, settings)
        summarize(source, pages, outputs, settings.low_confidence)
        return record_document(source, pages, outputs, settings)
    except Exception as exc:
        record_failure(Path(path), sha256, exc, settings)
        raise
    finally:
        publish_results(settings)


def read_pages(source: Source, pages: list[Page], settings: Settings) -> list[Page]:
    """Pages with a usable text layer keep it; the others go through OCR, progress shown."""
    progress = PageProgress(source, sum(page.method == "ocr" for page in pages))
    read = []
    for page in pages:
        if page.method == "ocr":
            page = ocr_page(source, page, settings)
            progress.advance()
        read.append(page)
    return read
