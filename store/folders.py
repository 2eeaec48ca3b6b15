"""The hot folder's folders on disk: claim markers, moves that never overwrite, quarantine.

A move is an atomic rename within one filesystem. A quarantined file gets `<name>.error.json`
beside it saying why, and a `files` row, so a person looking in failed/ needs nothing else.
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

from core.settings import Settings
from core.values import InboxFile
from store import schema
from store.db import Store

log = logging.getLogger(__name__)

ERROR_SUFFIX = ".error.json"
RUN_MARKER = ".run.json"  # in processing/<claim>/: which process runs the claim


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
    flow_run_id: str | None = None,
) -> Path:
    """Move `path` to failed/ with `<name>.error.json` beside it, and record it in DuckDB."""
    now = datetime.now(UTC)
    target = free_target(settings.failed, relative_path)
    report = {
        "file": relative_path,
        "reason": message,
        "error_type": error_type,
        "sha256": sha256,
        "attempts": attempts or [],
        "flow_run_id": flow_run_id,
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
        [
            file_row(
                source,
                "failed",
                target,
                now,
                error_type=error_type,
                error_message=message,
                flow_run_id=flow_run_id,
            )
        ],
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


def mark_claim(files: list[InboxFile], settings: Settings, flow_run_id: str) -> Path:
    """Say which process runs this claim, so a watcher can tell when that process died."""
    folder = settings.processing / files[0].file_id.split("/", 1)[0]
    write_json(
        folder / RUN_MARKER,
        {"flow_run_id": flow_run_id, "host": socket.gethostname(), "pid": os.getpid()},
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


def write_json(path: Path, body: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str), "utf-8")
    os.replace(tmp, path)


def file_row(
    source: InboxFile,
    status: str,
    location: Path,
    now: datetime,
    *,
    duplicate_of: int | None = None,
    error_type: str | None = None,
    error_message: str | None = None,
    flow_run_id: str | None = None,
) -> list[Any]:
    """The `files` row (schema.PLACE_FILE) of a placed file."""
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
        flow_run_id,
        now,
        now,
        now,
    ]
