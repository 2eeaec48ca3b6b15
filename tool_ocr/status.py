"""`tool-ocr status`: the health of the service, from what it leaves behind.

Server (health check), deployments and schedules (Prefect API), watcher (its heartbeat file),
files per folder (the disk), last errors (DuckDB). Each part is read on its own, so one that is
down does not hide the others.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from core.settings import Settings
from deployments.server import api_answers
from store import schema
from store.db import Store
from store.folders import ERROR_SUFFIX
from watch.inbox import Inbox

HEARTBEAT_STALE = 15.0  # seconds without a beat before the watcher counts as gone


def collect(settings: Settings) -> dict[str, Any]:
    """Everything `status` prints, as plain values."""
    api_url = os.environ["PREFECT_API_URL"]
    reachable = api_answers(api_url)
    return {
        "api_url": api_url,
        "server": reachable,
        "deployments": deployments() if reachable else [],
        "watcher": watcher(settings.state / "watcher.json"),
        "folders": folders(settings),
        "errors": _safe(
            lambda: Store.from_settings(settings).read(schema.RECENT_FAILURES, [5]), []
        ),
    }


def deployments() -> list[dict[str, Any]]:
    """Our deployments with their schedules and whether they are paused."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_deployments()
    return [
        {
            "name": f"{d.name}",
            "flow_id": str(d.flow_id),
            "paused": d.paused,
            "schedules": [
                getattr(s.schedule, "cron", None) or str(s.schedule) for s in d.schedules
            ],
        }
        for d in found
    ]


def watcher(heartbeat: Path) -> dict[str, Any]:
    """The watcher's last heartbeat and whether it is recent (and its process alive)."""
    try:
        beat = json.loads(heartbeat.read_text("utf-8"))
    except (OSError, ValueError):
        return {"alive": False, "detail": "no heartbeat: the watcher is not running"}
    age = time.time() - datetime.fromisoformat(beat["beat_at"]).timestamp()
    alive = age < HEARTBEAT_STALE and _pid_alive(beat)
    return {
        "alive": alive,
        "detail": f"pid {beat['pid']} on {beat['host']}, last beat "
        f"{age:.0f}s ago, {beat['batches_in_flight']} batch(es) in flight",
        **beat,
    }


def folders(settings: Settings) -> dict[str, int]:
    """Files waiting, being processed, and in each final place."""
    inbox = Inbox(settings.inbox, settings.processing, settings.watch_ignore)

    def count(root: Path) -> int:
        return (
            sum(
                1
                for p in root.rglob("*")
                if p.is_file() and not p.name.endswith(ERROR_SUFFIX) and not p.name.startswith(".")
            )
            if root.exists()
            else 0
        )

    return {
        "waiting": sum(1 for _ in inbox.scan()),
        "processing": count(settings.processing),
        "failed": count(settings.failed),
        "processed": count(settings.processed),
        "duplicates": count(settings.duplicates),
    }


def _pid_alive(beat: dict[str, Any]) -> bool:
    import socket

    if beat.get("host") != socket.gethostname():
        return True  # another machine: the beat's age is all we can tell
    try:
        os.kill(int(beat["pid"]), 0)
        return True
    except (OSError, ValueError):
        return False


def _safe(fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception as exc:
        return [("?", type(exc).__name__, str(exc), None)] if isinstance(default, list) else default
