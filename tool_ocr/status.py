"""`tool-ocr status`: the health of the service, from what it leaves behind.

The server (health check) and its UI address, deployments and schedules, the last and next
prune (Prefect API), the watcher (its heartbeat) and what it has in flight, with page progress
(the workers' progress beside their rasters), files per folder (the disk), the last success, the
last errors and the documents needing review (the analysts' DuckDB snapshot). Each part is read
on its own, so one that is down does not hide the others. Unhealthy: the server or the watcher
down, or files waiting while nothing progresses.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ToolOcrError
from core.settings import Settings
from deployments.server import api_answers
from store import schema, workers
from store.folders import ERROR_SUFFIX
from store.snapshot import query_snapshot
from watch import health
from watch.inbox import Inbox

STUCK = 300.0  # seconds files may wait while nothing is placed before the service is unwell
REVIEWS_LISTED = 5  # documents needing review shown by name


def collect(settings: Settings) -> dict[str, Any]:
    """Everything `status` prints, as plain values."""
    api_url = os.environ["PREFECT_API_URL"]
    reachable = api_answers(api_url)

    def query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
        # the snapshot: the live database may be held by the watcher through a burst
        return query_snapshot(settings.snapshot, sql, params)[1]

    found = {
        "api_url": api_url,
        "ui_url": api_url.removesuffix("/api"),
        "server": reachable,
        "deployments": _safe(deployments, []) if reachable else [],
        "prune": _safe(prune_runs, {}) if reachable else {},
        "watcher": watcher(settings),
        "in_flight": in_flight(settings),
        "workers": len(workers.living(settings.state)),
        "folders": folders(settings),
        "last_success": _safe(lambda: _first(query(schema.LAST_SUCCESS)), None),
        "errors": _safe(lambda: query(schema.RECENT_FAILURES, 5), []),
        "needs_review": needs_review(settings),
    }
    found["problems"] = problems(found)
    return found


def problems(found: dict[str, Any]) -> list[str]:
    """What makes the service unhealthy, in words."""
    out = []
    if not found["server"]:
        out.append(f"the Prefect server does not answer at {found['api_url']}")
    if not found["watcher"]["alive"]:
        out.append("the watcher is not running: nothing is picked up")
    waiting = found["folders"]["waiting"] + found["folders"]["processing"]
    last = found["watcher"].get("last_placed_at") or found["watcher"].get("started_at")
    if found["watcher"]["alive"] and waiting and last and _age(last) > STUCK:
        out.append(f"{waiting} file(s) wait and none was placed for {_age(last):.0f} s")
    return out


def needs_review(settings: Settings) -> dict[str, Any]:
    """Documents flagged needs-review: how many, and the latest (path, reasons, when)."""
    try:
        rows = query_snapshot(settings.snapshot, schema.NEEDS_REVIEW, [REVIEWS_LISTED])[1]
    except ToolOcrError:  # no snapshot yet (the errors line says so), or one not migrated yet
        return {"count": 0, "latest": []}
    return {"count": rows[0][3] if rows else 0, "latest": [row[:3] for row in rows]}


def deployments() -> list[dict[str, Any]]:
    """Our deployments with their schedules and whether they are paused."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_deployments()
    return [
        {
            "name": d.name,
            "paused": d.paused,
            "work_pool": d.work_pool_name,
            "schedules": [
                getattr(s.schedule, "cron", None) or str(s.schedule) for s in d.schedules
            ],
        }
        for d in found
    ]


def prune_runs() -> dict[str, str | None]:
    """When prune-expired last finished and when it runs next."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    def one(types: list[StateType], sort: FlowRunSort) -> str | None:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["prune-expired"])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=types))
            ),
            sort=sort,
            limit=1,
        )
        when = (runs[0].end_time or runs[0].expected_start_time) if runs else None
        return _when(when) if when else None

    with get_client(sync_client=True) as client:
        return {
            "last": one([StateType.COMPLETED, StateType.FAILED], FlowRunSort.END_TIME_DESC),
            "next": one([StateType.SCHEDULED], FlowRunSort.EXPECTED_START_TIME_ASC),
        }


def watcher(settings: Settings) -> dict[str, Any]:
    """The watcher's last heartbeat and whether it is recent (and its process alive)."""
    beat = health.read(settings)
    if beat is None:
        return {"alive": False, "detail": "no heartbeat: the watcher is not running"}
    age = _age(beat["beat_at"])
    alive = beat_alive(beat)
    return {
        **beat,
        "alive": alive,
        "detail": f"pid {beat['pid']} on {beat['host']}, last beat {age:.0f} s ago, "
        f"{len(beat.get('in_flight', []))} file(s) in flight",
    }


def beat_alive(beat: dict[str, Any]) -> bool:
    """A heartbeat recent enough, from a process still alive."""
    return _age(beat["beat_at"]) < health.STALE and _pid_alive(beat)


def in_flight(settings: Settings) -> list[dict[str, Any]]:
    """Documents being read on this machine, with their page progress."""
    found = []
    for progress in sorted(settings.work.glob("*/progress.json")):
        try:
            body = json.loads(progress.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        found.append({**body, "at": _when(datetime.fromtimestamp(body["at"], UTC))})
    return found


def folders(settings: Settings) -> dict[str, int]:
    """Files waiting, being processed, and in each final place."""
    inbox = Inbox(settings.inbox, settings.processing, settings.watch_ignore)

    def count(root: Path) -> int:
        if not root.exists():
            return 0
        return sum(
            1
            for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(ERROR_SUFFIX) and not p.name.startswith(".")
        )

    return {
        "waiting": sum(1 for _ in inbox.scan()),
        "processing": count(settings.processing),
        "failed": count(settings.failed),
        "processed": count(settings.processed),
        "duplicates": count(settings.duplicates),
    }


def _when(moment: datetime) -> str:
    """A time to the second, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(iso: str) -> float:
    return time.time() - datetime.fromisoformat(iso).timestamp()


def _first(rows: list[tuple[Any, ...]]) -> Any:
    return rows[0] if rows else None


def _pid_alive(beat: dict[str, Any]) -> bool:
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
