"""Where a claimed file ends: processed/, duplicates/ or failed/ with its reason beside it.

Each placement writes the file's `files` row, then renames the file (atomic within one
filesystem). A process killed in between leaves the file claimed; placing it again finds the row
and moves it to the same place. A quarantined file gets `<name>.error.json` beside it saying
why, so a person looking in failed/ needs nothing else.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.settings import Settings
from core.values import InboxFile
from store import schema
from store.db import Store
from store.folders import ERROR_SUFFIX, free_target, rename, write_json

log = logging.getLogger(__name__)

RETRY_HINT = "fix the cause, then `tool-ocr retry` or move the file back into the inbox"


def place(
    file: InboxFile, outcome: dict[str, Any], store: Store, settings: Settings, run: str | None
) -> dict[str, Any]:
    """Put a claimed file where its run's `outcome` ('done' or 'failed') says; returns where."""
    done = store.read(schema.FILE_PLACEMENT, [file.file_id])
    if not Path(file.path).exists() and done and Path(done[0][1]).exists():
        return {"status": done[0][0], "location": done[0][1]}
    if outcome.get("status") != "done":
        error_type = str(outcome.get("error_type") or "unknown")
        message = str(outcome.get("error_message") or "the run failed without saying why")
        attempts = run_attempts(store, file.sha256, run)
        target = quarantine(
            Path(file.path), file, error_type, message, store, settings, run=run, attempts=attempts
        )
        return {"status": "failed", "location": str(target), "error_type": error_type}
    original = store.read(schema.ORIGINAL_OF, [file.sha256])
    if original and not _own_result(file, original[0][2], done):
        return place_duplicate(file, original[0][:2], store, settings, run)
    return place_processed(file, store, settings, run)


def _own_result(file: InboxFile, document_path: str, placement: list[tuple[Any, ...]]) -> bool:
    """Did this very file produce the stored document (and not another copy of it)?"""
    return document_path == file.path or bool(
        placement and placement[0] == ("processed", document_path)
    )


def place_processed(
    file: InboxFile, store: Store, settings: Settings, run: str | None
) -> dict[str, Any]:
    """The original to processed/YYYY/MM/DD/<relative path>; its retention starts now."""
    now = datetime.now(UTC)
    target = free_target(settings.processed / f"{now:%Y/%m/%d}", file.relative_path)
    store.apply(
        [
            (schema.PLACE_FILE, file_row(file, "processed", target, now, run=run)),
            (schema.MOVED_DOCUMENT, [str(target), file.sha256, file.path]),
        ]
    )
    rename(Path(file.path), target)
    log.info("%s: processed, original moved to %s", file.relative_path, target)
    return {"status": "processed", "location": str(target)}


def place_duplicate(
    file: InboxFile, original: tuple[Any, str], store: Store, settings: Settings, run: str | None
) -> dict[str, Any]:
    """Content already processed: to duplicates/, recorded with the original document's id."""
    now = datetime.now(UTC)
    doc_id, name = original
    target = free_target(settings.duplicates, file.relative_path)
    message = f"same content as {name} (document {doc_id}), already processed"
    row = file_row(file, "duplicate", target, now, duplicate_of=doc_id, message=message, run=run)
    store.write(schema.PLACE_FILE, [row])
    rename(Path(file.path), target)
    log.info("%s: duplicate of %s, moved to %s", file.relative_path, name, target)
    return {"status": "duplicate", "location": str(target), "duplicate_of": doc_id}


def quarantine(
    path: Path,
    file: InboxFile,
    error_type: str,
    message: str,
    store: Store,
    settings: Settings,
    *,
    run: str | None = None,
    attempts: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Move `path` to failed/ with `<name>.error.json` beside it, and record it in DuckDB."""
    now = datetime.now(UTC)
    target = free_target(settings.failed, file.relative_path)
    report = {
        "file": file.relative_path,
        "reason": message,
        "error_type": error_type,
        "sha256": file.sha256 or None,
        "attempts": attempts or [],
        "flow_run_id": run,
        "failed_at": now.isoformat(timespec="seconds"),
        "retry": RETRY_HINT,
        **(extra or {}),
    }
    write_json(target.with_name(target.name + ERROR_SUFFIX), report)
    row = file_row(file, "failed", target, now, error_type=error_type, message=message, run=run)
    store.write(schema.PLACE_FILE, [row])
    rename(path, target)
    log.warning("%s: failed (%s: %s), moved to %s", file.relative_path, error_type, message, target)
    return target


def refused(relative_path: str, now: datetime | None = None) -> InboxFile:
    """The `files` identity of a file refused before it could be claimed or read."""
    now = now or datetime.now(UTC)
    return InboxFile(f"{now:%Y%m%dT%H%M%S}-refused/{relative_path}", "", relative_path, "", 0)


def run_attempts(store: Store, sha256: str, run: str | None) -> list[dict[str, Any]]:
    """The task attempts of one document run, short enough for an error report."""
    keep = ("task_name", "page_no", "attempt", "state", "error_type", "error_message")
    return [
        {k: row[k] for k in keep}
        for row in store.attempts(sha256)
        if run is None or row["flow_run_id"] == str(run)
    ]


def file_row(
    file: InboxFile,
    status: str,
    location: Path,
    now: datetime,
    *,
    duplicate_of: Any = None,
    error_type: str | None = None,
    message: str | None = None,
    run: str | None = None,
) -> list[Any]:
    """The `files` row (schema.PLACE_FILE) of a placed file."""
    return [
        file.file_id,
        file.relative_path,
        file.sha256 or None,
        file.size or None,
        status,
        str(location),
        duplicate_of,
        error_type,
        message,
        run,
        now,
        now,
        now,
    ]
