"""The watcher's heartbeat, state/watcher.json: what `tool-ocr status` reads to tell whether the
watcher is alive and what it has in hand."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.settings import Settings

STALE = 15.0  # seconds without a beat before the watcher counts as gone


def path(settings: Settings) -> Path:
    return settings.state / "watcher.json"


def beat(settings: Settings, body: dict[str, Any]) -> None:
    """Write the heartbeat: who, when, and `body` (files waiting and in flight)."""
    now = datetime.now(UTC)
    full = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "beat_at": now.isoformat(timespec="seconds"),
        **body,
    }
    target = path(settings)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(full, default=str), "utf-8")
    os.replace(tmp, target)


def read(settings: Settings) -> dict[str, Any] | None:
    """The last heartbeat, or None."""
    try:
        body = json.loads(path(settings).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def clear(settings: Settings) -> None:
    path(settings).unlink(missing_ok=True)
