"""The few calls of Prefect's REST API the watcher makes, on plain httpx.

The watcher only creates runs, reads their states and marks the dead ones; Prefect's Python
client would cost it a third of its memory (the SDK imports most of Prefect). The endpoints
and bodies are Prefect 3's public REST API, the same the client sends. Configured like Prefect:
PREFECT_API_URL, and PREFECT_API_KEY (Prefect Cloud) or PREFECT_API_AUTH_STRING (a server
with basic auth) from the environment.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

FINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}


class ServerBusy(Exception):
    """The Prefect server refused a request for now (503: its SQLite database was locked)."""


@dataclass(frozen=True)
class Run:
    """What the watcher reads of a flow run."""

    id: UUID
    name: str
    state: str | None = None  # the state type: SCHEDULED, PENDING, RUNNING, COMPLETED, ...
    state_name: str | None = None
    since: datetime | None = None  # when it entered that state
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Run:
        state = body.get("state") or {}
        stamp = state.get("timestamp")
        return cls(
            id=UUID(body["id"]),
            name=body.get("name") or "",
            state=state.get("type"),
            state_name=state.get("name"),
            since=datetime.fromisoformat(stamp) if stamp else None,
            parameters=body.get("parameters") or {},
        )


class PrefectApi:
    """One HTTP session to the Prefect API for the watcher's life."""

    def __init__(self, url: str | None = None, timeout: float = 30.0) -> None:
        url = url or os.environ.get("PREFECT_API_URL")
        if not url:
            raise RuntimeError("PREFECT_API_URL is not set")
        self.http = httpx.Client(base_url=url.rstrip("/") + "/", headers=_auth(), timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def deployment_id(self, name: str) -> UUID:
        """The id of deployment 'flow-name/deployment-name'."""
        return UUID(self._call("GET", f"deployments/name/{name}")["id"])

    def create_run(self, deployment: UUID, body: dict[str, Any]) -> Run:
        """A Scheduled run of `deployment` (`body`: name, parameters, tags, idempotency_key).
        Asked once: a busy server raises ServerBusy, for the caller to ask again later (the
        SDK would repeat it after 2, 4, 8... s, holding up everything behind it)."""
        return Run.from_json(self._call("POST", f"deployments/{deployment}/create_flow_run", body))

    def runs(self, flow_runs: dict[str, Any], limit: int) -> list[Run]:
        """Runs matching a flow-run filter, e.g. {"id": {"any_": [...]}}."""
        found = self._call("POST", "flow_runs/filter", {"flow_runs": flow_runs, "limit": limit})
        return [Run.from_json(run) for run in found]

    def set_state(self, run: UUID, state: str, name: str, message: str) -> None:
        """Force run `run` into `state` (a type: CRASHED, FAILED...) named `name`."""
        body = {"state": {"type": state, "name": name, "message": message}, "force": True}
        self._call("POST", f"flow_runs/{run}/set_state", body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code == 503:
            raise ServerBusy(f"{method} {path}: the Prefect server is busy")
        response.raise_for_status()
        return response.json()


def _auth() -> dict[str, str]:
    if key := os.environ.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {key}"}
    if basic := os.environ.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()}
    return {}
