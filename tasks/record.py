"""Record: a document's outcome lands in DuckDB (and its rasters are let go)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

from core.errors import describe
from core.settings import Settings
from core.values import Outputs, Page, Source
from store.db import Store
from tasks.ocr import used_engine
from tasks.render import discard_rasters
from tasks.tracking import step

log = logging.getLogger(__name__)


def is_done(sha256: str, settings: Settings) -> bool:
    """True when this content was already processed successfully."""
    return Store.from_settings(settings).document_status(sha256) == "done"


@step("record", "record {source.name}", retries=3, retry_delay_seconds=5)
def record_document(
    source: Source, pages: list[Page], outputs: Outputs, settings: Settings
) -> dict[str, Any]:
    """Store the document, its pages, lines and review; returns the run's summary."""
    checked = Store.from_settings(settings).finish_document(
        source,
        pages,
        outputs,
        used_engine(pages, settings),
        status="done",
        flow_run_id=flow_run.id,
        low_confidence=settings.low_confidence,
        review_share=settings.review_share,
    )
    discard_rasters(settings, source.sha256)
    lines = sum(len(page.lines) for page in pages)
    reasons = list(checked.reasons) if checked else []
    log.info(
        "%s: done, %d page(s), %d line(s), %s, outputs in %s",
        source.name,
        len(pages),
        lines,
        f"needs review: {'; '.join(reasons)}" if reasons else "no review needed",
        outputs.pdf.parent,
    )
    return {
        "status": "done",
        "sha256": source.sha256,
        "doc_id": source.doc_id,
        "name": source.name,
        "pages": len(pages),
        "lines": lines,
        "needs_review": bool(reasons),
        "review_reasons": reasons,
        "outputs": outputs.as_dict(),
    }


def publish_results(settings: Settings, force: bool = False) -> None:
    """Bring the analysts' snapshot up to date (at most every snapshot_interval seconds, unless
    forced: a batch ends with its files' placements visible)."""
    Store.from_settings(settings).refresh_snapshot(force)


def record_failure(path: Path, sha256: str, exc: BaseException, settings: Settings) -> None:
    """Store why a document failed; a failure to store that is logged, never raised."""
    error_type, message = describe(exc)
    log.error("%s: failed: %s: %s", path.name, error_type, message)
    try:
        source = Source(
            path=path,
            name=path.name,
            sha256=sha256,
            kind="unknown",
            size=path.stat().st_size if path.exists() else 0,
            page_count=0,
        )
        Store.from_settings(settings).finish_document(
            source,
            [],
            None,
            None,
            status="failed",
            error_type=error_type,
            error_message=message,
            flow_run_id=flow_run.id,
        )
    except Exception as err:  # the original error is what the run must report
        log.error("%s: the failure could not be recorded: %s", path.name, err)
    discard_rasters(settings, sha256)
