"""Which worker process runs which flow run: state/workers/<host>-<pid>.json.

Each `tool-ocr worker` writes its own file when it takes a run and when it ends one, and removes
it when it stops. The watcher reads them to tell a dead worker's runs (stuck Running in
Prefect) from live ones, and `tool-ocr status` to show what is in flight.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from store.folders import write_json

STALE = 120.0  # seconds without a write before another machine's worker counts as gone


def folder(state: Path) -> Path:
    return state / "workers"


def record(state: Path, name: str, run: dict[str, Any] | None) -> None:
    """This worker is alive and reading `run` ({'id', 'name', 'started'}) or idle (None)."""
    write_json(
        folder(state) / f"{socket.gethostname()}-{os.getpid()}.json",
        {
            "name": name,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "run": run,
            "at": time.time(),
        },
    )


def remove(state: Path) -> None:
    (folder(state) / f"{socket.gethostname()}-{os.getpid()}.json").unlink(missing_ok=True)


def alive(body: dict[str, Any], written: float) -> bool:
    """A worker of this machine whose pid lives, or of another written recently."""
    if body.get("host") != socket.gethostname():
        return time.time() - written < STALE
    try:
        os.kill(int(body["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return False
    return True


def living(state: Path) -> list[dict[str, Any]]:
    """The workers alive now, with what they read; files of dead local workers are removed."""
    found = []
    for path in sorted(folder(state).glob("*.json")):
        try:
            body = json.loads(path.read_text("utf-8"))
            written = path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if alive(body, written):
            found.append(body)
        elif body.get("host") == socket.gethostname():
            path.unlink(missing_ok=True)
    return found
