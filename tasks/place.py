"""Place: every file that entered the hot folder ends in processed/, failed/ or duplicates/.

Each placement records where the file goes in DuckDB (`files`), then moves it there
(`store.folders`); a quarantined file gets its reason beside it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

from core.errors import describe
from core.settings import Settings
from core.values import InboxFile
from store import schema
from store.db import Store
from store.folders import file_row, free_target, quarantine, rename
from tasks.tracking import step

log = logging.getLogger(__name__)


def _run_id() -> str | None:
    return str(flow_run.id) if flow_run.id else None


@step("place", "place {source.relative_path}", retries=3, retry_delay_seconds=2)
def place_file(
    source: InboxFile,
    outcome: dict[str, Any] | BaseException,
    settings: Settings,
    attempts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Move a claimed file where its outcome says and record it; returns the placement.

    The row is written before the rename: a run killed in between leaves the file claimed (it is
    placed again, to the same target); a retry after the rename finds it placed.
    """
    store = Store.from_settings(settings)
    done = store.read(schema.FILE_PLACEMENT, [source.file_id])
    if not Path(source.path).exists() and done and Path(done[0][1]).exists():
        return {"status": done[0][0], "location": done[0][1]}
    if isinstance(outcome, BaseException):
        return place_failed(source, outcome, settings, attempts or [])
    original = store.read(schema.ORIGINAL_OF, [source.sha256])
    if original and not _own_result(source, original[0][2], done):
        return place_duplicate(source, original[0][:2], settings)
    return place_processed(source, settings)


def _own_result(source: InboxFile, document_path: str, placement: list[tuple[Any, ...]]) -> bool:
    """Did this very file produce the stored document (and not another copy of it)?"""
    return document_path == source.path or bool(
        placement and placement[0] == ("processed", document_path)
    )


def place_processed(source: InboxFile, settings: Settings) -> dict[str, Any]:
    """The original to processed/YYYY/MM/DD/<relative path>; its retention starts now."""
    now = datetime.now(UTC)
    target = free_target(settings.processed / f"{now:%Y/%m/%d}", source.relative_path)
    Store.from_settings(settings).apply(
        [
            (schema.PLACE_FILE, file_row(source, "processed", target, now, flow_run_id=_run_id())),
            (schema.MOVED_DOCUMENT, [str(target), source.sha256, source.path]),
        ]
    )
    rename(Path(source.path), target)
    log.info("%s: processed, original moved to %s", source.relative_path, target)
    return {"status": "processed", "location": str(target)}


def place_duplicate(
    source: InboxFile, original: tuple[int, str], settings: Settings
) -> dict[str, Any]:
    """Content already processed: to duplicates/, recorded with the original document's id."""
    now = datetime.now(UTC)
    doc_id, name = original
    target = free_target(settings.duplicates, source.relative_path)
    message = f"same content as {name} (document {doc_id}), already processed"
    Store.from_settings(settings).write(
        schema.PLACE_FILE,
        [
            file_row(
                source,
                "duplicate",
                target,
                now,
                duplicate_of=doc_id,
                error_message=message,
                flow_run_id=_run_id(),
            )
        ],
    )
    rename(Path(source.path), target)
    log.info("%s: duplicate of %s, moved to %s", source.relative_path, name, target)
    return {"status": "duplicate", "location": str(target), "duplicate_of": doc_id}


def place_failed(
    source: InboxFile, exc: BaseException, settings: Settings, attempts: list[dict[str, Any]]
) -> dict[str, Any]:
    """Quarantine a claimed file whose run failed, with the reason beside it and in DuckDB."""
    error_type, message = describe(exc)
    target = quarantine(
        Path(source.path),
        source.relative_path,
        error_type,
        message,
        settings,
        sha256=source.sha256,
        size=source.size,
        file_id=source.file_id,
        attempts=attempts,
        flow_run_id=_run_id(),
    )
    return {
        "status": "failed",
        "location": str(target),
        "error_type": error_type,
        "error_message": message,
    }


def run_attempts(sha256: str, flow_run_id: Any, settings: Settings) -> list[dict[str, Any]]:
    """The task attempts of one document run, short enough for an error report."""
    keep = ("task_name", "page_no", "attempt", "state", "error_type", "error_message")
    return [
        {k: row[k] for k in keep}
        for row in Store.from_settings(settings).attempts(sha256)
        if row["flow_run_id"] == str(flow_run_id)
    ]
