"""Place: every file that entered the hot folder ends in processed/, failed/ or duplicates/.

Each placement moves the original (an atomic rename within one filesystem), and records where
it went in DuckDB (`files`). A quarantined file gets `<name>.error.json` beside it saying why, so
a person looking in failed/ needs nothing else.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect.runtime import flow_run

from tasks import schema
from tasks.store import Store
from tasks.tracking import step
from tool_ocr.errors import describe
from tool_ocr.models import InboxFile
from tool_ocr.settings import Settings

log = logging.getLogger(__name__)

ERROR_SUFFIX = ".error.json"
RUN_MARKER = ".run.json"  # in processing/<claim>/: which process runs the claim


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
            (schema.PLACE_FILE, _row(source, "processed", target, now)),
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
        [_row(source, "duplicate", target, now, duplicate_of=doc_id, error_message=message)],
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
    )
    return {
        "status": "failed",
        "location": str(target),
        "error_type": error_type,
        "error_message": message,
    }


def quarantine(
    path: Path,
    relative_path: str,
    error_type: str,
    message: str,
    settings: Settings,
    *,
    sha256: str | None = None,
    size: int | None = None,
    file_id: str | None = None,
    attempts: list[dict[str, Any]] | None = None,
) -> Path:
    """Move `path` to failed/ with `<name>.error.json` beside it, and record it in DuckDB."""
    now = datetime.now(UTC)
    target = free_target(settings.failed, relative_path)
    run_id = str(flow_run.id) if flow_run.id else None
    report = {
        "file": relative_path,
        "reason": message,
        "error_type": error_type,
        "sha256": sha256,
        "attempts": attempts or [],
        "flow_run_id": run_id,
        "failed_at": now.isoformat(timespec="seconds"),
        "retry": "fix the cause, then `tool-ocr retry` or move the file back into the inbox",
    }
    write_json(target.with_name(target.name + ERROR_SUFFIX), report)
    source = InboxFile(
        file_id or f"{now:%Y%m%dT%H%M%S}-refused/{relative_path}",
        str(path),
        relative_path,
        sha256 or "",
        size or 0,
    )
    Store.from_settings(settings).write(
        schema.PLACE_FILE,
        [_row(source, "failed", target, now, error_type=error_type, error_message=message)],
    )
    rename(path, target)
    log.warning("%s: failed (%s: %s), moved to %s", relative_path, error_type, message, target)
    return target


def move(path: Path, root: Path, relative_path: str) -> Path:
    """Move `path` to `root/relative_path`, never over an existing file: 'a (2).pdf' etc."""
    target = free_target(root, relative_path)
    rename(path, target)
    return target


def free_target(root: Path, relative_path: str) -> Path:
    """`root/relative_path`, or 'name (2).ext' etc. when taken (by a file or its report)."""
    target = root / relative_path
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists() or target.is_symlink():
        n += 1
        target = target.with_name(f"{stem} ({n}){suffix}")
    return target


def rename(path: Path, target: Path) -> None:
    """Move one file (a link as itself); its retention clock starts now."""
    os.utime(path, follow_symlinks=False)  # a rename keeps the mtime; prune counts from here
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(path, target)
    except FileNotFoundError:
        if not path.exists():
            raise
        target.parent.mkdir(parents=True, exist_ok=True)  # prune removed the empty folder
        os.rename(path, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another filesystem: copy, then delete
            raise
        shutil.move(path, target)


def mark_claim(files: list[InboxFile], settings: Settings) -> Path:
    """Say which process runs this claim, so a watcher can tell when that process died."""
    folder = settings.processing / files[0].file_id.split("/", 1)[0]
    write_json(
        folder / RUN_MARKER,
        {"flow_run_id": str(flow_run.id), "host": socket.gethostname(), "pid": os.getpid()},
    )
    return folder


def release_claim(folder: Path, settings: Settings) -> None:
    """The claim is done: its marker and its empty folders go (a file left is kept)."""
    (folder / RUN_MARKER).unlink(missing_ok=True)
    remove_empty_tree(folder, settings.processing)


def claim_process_died(folder: Path, run_id: Any) -> bool:
    """True when the marker names `run_id` in a process of this machine that is gone."""
    try:
        marker = json.loads((folder / RUN_MARKER).read_text("utf-8"))
        if marker["flow_run_id"] != str(run_id) or marker["host"] != socket.gethostname():
            return False
        os.kill(int(marker["pid"]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, KeyError):
        return False
    return False


def remove_empty_tree(folder: Path, stop: Path) -> None:
    """Remove the empty folders inside `folder`, then `folder` itself if empty (up to `stop`)."""
    for sub in sorted(
        (p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: -len(p.parts),
    ):
        remove_empty(sub, folder)
    remove_empty(folder, stop)


def remove_empty(folder: Path, stop: Path) -> None:
    """Remove `folder` and its empty parents up to (not including) `stop`."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def run_attempts(sha256: str, flow_run_id: Any, settings: Settings) -> list[dict[str, Any]]:
    """The task attempts of one document run, short enough for an error report."""
    keep = ("task_name", "page_no", "attempt", "state", "error_type", "error_message")
    return [
        {k: row[k] for k in keep}
        for row in Store.from_settings(settings).attempts(sha256)
        if row["flow_run_id"] == str(flow_run_id)
    ]


def write_json(path: Path, body: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str), "utf-8")
    os.replace(tmp, path)


def _row(
    source: InboxFile,
    status: str,
    location: Path,
    now: datetime,
    *,
    duplicate_of: int | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
) -> list[Any]:
    return [
        source.file_id,
        source.relative_path,
        source.sha256 or None,
        source.size or None,
        status,
        str(location),
        duplicate_of,
        error_type,
        error_message,
        str(flow_run.id) if flow_run.id else None,
        now,
        now,
        now,
    ]
