"""A claim folder, processing/<claim id>/: the claimed file and what is known about its run.

Markers beside the file say which process reads it (`.run.json`), how its run ended
(`.outcome.json`, left by the flow), whether it ran out of time (`.timeout.json`, left by the
worker that was stopped) and how many runs of it crashed (`.crashes`). They are small JSON files
written atomically, readable from any machine sharing the folder; the watcher acts on them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.values import InboxFile
from store.folders import remove_empty_tree, write_json

RUN, OUTCOME, TIMEOUT = ".run.json", ".outcome.json", ".timeout.json"
CRASHES, SUBMISSIONS = ".crashes", ".submissions"
MARKERS = (RUN, OUTCOME, TIMEOUT, CRASHES, SUBMISSIONS)
TOUCH = 10.0  # seconds between two touches of the mark of a claim being read
STALE_RUN = 120.0  # seconds untouched before another machine's run counts as dead


def folder(processing: Path, file: InboxFile) -> Path:
    """The claim folder of `file` (its file id starts with the claim id)."""
    return processing / file.file_id.split("/", 1)[0]


def of_run(processing: Path, parameters: dict[str, Any]) -> Path | None:
    """The claim folder of a hot-folder run's file, from the run's parameters; None for runs
    of other flows."""
    file = parameters.get("file")
    if not isinstance(file, dict) or "file_id" not in file:
        return None
    return folder(processing, InboxFile(**file))


@contextlib.contextmanager
def reading(claim: Path, flow_run_id: str) -> Iterator[None]:
    """While the block runs, the claim says which process reads it (host, pid) and a thread
    touches that mark every TOUCH seconds: the watcher tells a dead process by its pid on this
    machine, and by a mark left untouched for STALE_RUN seconds on another."""
    body = {"flow_run_id": flow_run_id, "host": socket.gethostname(), "pid": os.getpid()}
    write_json(claim / RUN, body)
    done = threading.Event()

    def touch() -> None:
        while not done.wait(TOUCH):
            with contextlib.suppress(FileNotFoundError):
                os.utime(claim / RUN)

    toucher = threading.Thread(target=touch, name="claim-touch", daemon=True)
    toucher.start()
    try:
        yield
    finally:
        done.set()


def run_died(claim: Path, flow_run_id: Any) -> bool:
    """True when the marker names `flow_run_id` and its process is gone: no such pid on this
    machine, or on another machine no touch for STALE_RUN seconds."""
    marker = read(claim / RUN)
    if marker is None or marker.get("flow_run_id") != str(flow_run_id):
        return False
    if marker.get("host") != socket.gethostname():
        return time.time() - (claim / RUN).stat().st_mtime > STALE_RUN
    try:
        os.kill(int(marker["pid"]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, KeyError):
        return False
    return False


def leave_outcome(claim: Path, body: dict[str, Any]) -> None:
    """How the run ended: {'status': 'done'|'failed', 'error_type', 'error_message', ...}."""
    write_json(claim / OUTCOME, body)


def mark_timeout(claim: Path, flow_run_id: str, seconds: float) -> None:
    """The run of this claim ran past the file time limit and its worker is being stopped."""
    write_json(claim / TIMEOUT, {"flow_run_id": flow_run_id, "seconds": seconds})


def count_crash(claim: Path) -> int:
    """One more run of this claim crashed; returns how many have."""
    return _bump(claim / CRASHES)


def crash_count(claim: Path) -> int:
    """How many runs of this claim crashed."""
    return _count(claim / CRASHES)


def submissions(claim: Path) -> int:
    """How many runs were created for this claim (kept across watcher restarts, so the same
    submission gets the same run back from Prefect)."""
    return _count(claim / SUBMISSIONS)


def count_submission(claim: Path) -> int:
    """One more run is created for this claim; returns its number (1, 2, ...)."""
    return _bump(claim / SUBMISSIONS)


def _count(marker: Path) -> int:
    try:
        return int(marker.read_text("utf-8").strip() or 0)
    except (OSError, ValueError):
        return 0


def _bump(marker: Path) -> int:
    value = _count(marker) + 1
    marker.write_text(str(value), "utf-8")
    return value


def read(marker: Path) -> dict[str, Any] | None:
    """A marker's JSON, or None when absent or unreadable."""
    try:
        body = json.loads(marker.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def clear_run(claim: Path) -> None:
    """Forget the last run's markers (before the claim is submitted again); crashes stay."""
    for name in (RUN, OUTCOME, TIMEOUT):
        (claim / name).unlink(missing_ok=True)


def release(claim: Path, processing: Path) -> None:
    """The claim is done: its markers and its empty folders go (a file left is kept)."""
    for name in MARKERS:
        (claim / name).unlink(missing_ok=True)
    remove_empty_tree(claim, processing)
