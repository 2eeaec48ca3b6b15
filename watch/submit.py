"""Claimed files on their way through Prefect: one `ocr-inbox` run each, followed to its end.

This is the watcher's only door to Prefect. A run is named after its file and tagged with its
path, so operators find every file in the UI. Its idempotency key is the file's claim and the
submission number, which is kept in the claim folder: a watcher that restarts and submits a
claim again gets the existing run back, never a second one. How a run ended is read first from
the claim folder (the outcome the flow left, or the time-out mark its worker left before
stopping), then from Prefect: a run that ended without an outcome, or whose process died
without a word, crashed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import DeploymentFlowRunCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Crashed, Failed, Scheduled, to_state_create

from core.values import InboxFile
from store import claims

log = logging.getLogger(__name__)

DEPLOYMENT = "ocr-inbox/ocr-inbox"
TAG_LENGTH = 500  # Prefect accepts long tags; a path longer than this is cut
How = Literal["outcome", "timeout", "crashed", "cancelled"]


class ServerBusy(Exception):
    """The Prefect server refused a request for now (503: its SQLite database was locked)."""


@dataclass
class Tracked:
    """A claimed file and its current run (None: to be created; `again`: a new one, the last
    one having ended without placing the file)."""

    file: InboxFile
    claim: Path
    run_id: UUID | None = None
    again: bool = False

    def idempotency_key(self, submission: int) -> str:
        """Same file, same claim, same submission number: the same run."""
        digest = hashlib.sha256(f"{self.file.file_id}\n{self.file.sha256}".encode()).hexdigest()
        return f"ocr-inbox-{digest[:32]}-{submission}"

    def run_name(self) -> str:
        return f"ocr {self.file.relative_path}"

    def tags(self) -> list[str]:
        return ["tool-ocr", "hot-folder", f"path:{self.file.relative_path}"[:TAG_LENGTH]]


@dataclass(frozen=True)
class Ended:
    """A tracked file whose run ended, and how: with an outcome, out of time, crashed or
    cancelled (the service stopping)."""

    tracked: Tracked
    how: How
    outcome: dict[str, Any]


class Submitter:
    """Creates a run per claimed file and reports which ended, and how."""

    def __init__(self, deployment: str = DEPLOYMENT) -> None:
        self.deployment = deployment
        self.tracked: dict[str, Tracked] = {}  # by file id
        self._deployment_id: UUID | None = None
        self._client: SyncPrefectClient | None = None

    def __len__(self) -> int:
        return len(self.tracked)

    @property
    def client(self) -> SyncPrefectClient:
        """One client for the watcher's life (a new one costs a TLS context)."""
        if self._client is None:
            self._client = get_client(sync_client=True)
            self._client.__enter__()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None

    def add(self, file: InboxFile, claim: Path) -> Tracked:
        """Follow a claimed file; its run is created by the next `submit`."""
        tracked = self.tracked[file.file_id] = Tracked(file, claim)
        return tracked

    def forget(self, tracked: Tracked) -> None:
        self.tracked.pop(tracked.file.file_id, None)

    def again(self, tracked: Tracked) -> None:
        """Its last run ended without placing the file: the next `submit` creates a new one."""
        claims.clear_run(tracked.claim)
        tracked.run_id, tracked.again = None, True

    def submit(self) -> list[tuple[Tracked, Exception]]:
        """Create the runs still missing: a claim from before a restart gets its last run
        back, a new claim its first, a claim whose run ended a new one. A busy server stops
        the round (asked again next round); a file refused for its own sake is returned."""
        refused: list[tuple[Tracked, Exception]] = []
        for tracked in [t for t in self.tracked.values() if t.run_id is None]:
            try:
                self._create(tracked)
            except (ServerBusy, httpx.TransportError):
                raise
            except (UnicodeError, ValueError, TypeError, httpx.HTTPStatusError) as exc:
                refused.append((tracked, exc))
        return refused

    def deployment_id(self) -> UUID:
        if self._deployment_id is None:
            self._deployment_id = self.client.read_deployment_by_name(self.deployment).id
        return self._deployment_id

    def _create(self, tracked: Tracked) -> None:
        count = claims.submissions(tracked.claim)
        if not count or tracked.again:  # a first run, or a new one after one that ended
            count = claims.count_submission(tracked.claim)
        run = self._post_run(tracked, count)
        tracked.run_id, tracked.again = run.id, False
        log.info("%s: run %s (%s)", tracked.file.relative_path, run.name, run.id)

    def _post_run(self, tracked: Tracked, submission: int) -> FlowRun:
        body = DeploymentFlowRunCreate(
            parameters={"file": asdict(tracked.file)},
            state=to_state_create(Scheduled()),
            tags=tracked.tags(),
            name=tracked.run_name(),
            idempotency_key=tracked.idempotency_key(submission),
        )
        path = f"/deployments/{self.deployment_id()}/create_flow_run"
        return _post_once(self.client, path, body.model_dump(mode="json", exclude_unset=True))

    def by_markers(self) -> list[Ended]:
        """Runs that left an outcome or a time-out mark in their claim folder (no API call)."""
        ended = []
        for tracked in list(self.tracked.values()):
            if (timeout := claims.read(tracked.claim / claims.TIMEOUT)) is not None:
                ended.append(Ended(tracked, "timeout", timeout))
            elif (outcome := claims.read(tracked.claim / claims.OUTCOME)) is not None:
                ended.append(Ended(tracked, "outcome", outcome))
        return ended

    def by_states(self) -> list[Ended]:
        """Runs that ended in Prefect without an outcome, or whose process died unreported
        (killed, out of memory): those are marked Crashed here."""
        runs = {t.run_id: t for t in self.tracked.values() if t.run_id is not None}
        if not runs:
            return []
        found = {
            run.id: run
            for run in self.client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(runs))),
                limit=len(runs),
            )
        }
        ended = []
        for run_id, tracked in runs.items():
            run = found.get(run_id)
            state = run.state if run is not None else None
            if (outcome := claims.read(tracked.claim / claims.OUTCOME)) is not None:
                ended.append(Ended(tracked, "outcome", outcome))  # it ended meanwhile
            elif state is not None and state.is_final():
                ended.append(Ended(tracked, "cancelled" if state.is_cancelled() else "crashed", {}))
            elif run is None or claims.run_died(tracked.claim, run_id):
                if run is not None:
                    self.mark(run_id, Crashed(message="its worker process died"))
                ended.append(Ended(tracked, "crashed", {}))
        return ended

    def fail(self, run_id: UUID | None, reason: str) -> None:
        """Mark a run Failed with `reason` (best effort: the file is placed in any case)."""
        if run_id is not None:
            self.mark(run_id, Failed(message=reason))

    def mark(self, run_id: UUID, state: Any) -> None:
        try:
            self.client.set_flow_run_state(run_id, state, force=True)
        except Exception as exc:  # the UI catches up at the next sweep
            log.debug("run %s not marked %s: %s", run_id, state.name, exc)

    def sweep(self, processing: Path, grace: float) -> int:
        """`ocr-inbox` runs left Pending or Running by a process that is gone (killed with
        its service, or out of memory) are marked Crashed, so none stays Running for ever. A
        run is gone when its claim's mark names a dead process, or when no mark of it
        appeared within `grace` seconds of its last state change (a live run marks its claim
        at once)."""
        stuck = self.client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[self.deployment_id()]),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
                ),
            ),
            limit=200,
        )
        swept = [run for run in stuck if not _alive(run, processing, grace)]
        for run in swept:
            self.mark(run.id, Crashed(message="its worker process is gone"))
            log.warning(
                "run %s (%s) was left %s by a process that is gone: marked Crashed",
                run.name,
                run.id,
                run.state.name if run.state else "unfinished",
            )
        return len(swept)


def _post_once(client: SyncPrefectClient, path: str, body: dict[str, Any]) -> FlowRun:
    """POST once. Prefect's client repeats a request the server refused as busy after 2, 4,
    8... s, and with SQLite that happens to run creations whenever other writes overlap them;
    the watcher's loop instead asks again a round later and places files meanwhile."""
    http = client._client  # the API client's own session: its address, headers and auth
    response = httpx.Client.send(http, http.build_request("POST", path, json=body))
    if response.status_code == 503:
        raise ServerBusy(f"POST {path}: the Prefect server is busy")
    response.raise_for_status()
    return FlowRun.model_validate(response.json())


def _alive(run: FlowRun, processing: Path, grace: float) -> bool:
    file = (run.parameters or {}).get("file")
    if not isinstance(file, dict) or "file_id" not in file:
        return True  # not a hot-folder run: not ours to judge
    claim = claims.folder(processing, InboxFile(**file))
    marker = claims.read(claim / claims.RUN)
    if marker is not None and marker.get("flow_run_id") == str(run.id):
        return not claims.run_died(claim, run.id)
    since = run.state.timestamp if run.state is not None and run.state.timestamp else None
    return since is not None and (datetime.now(UTC) - since).total_seconds() < grace
