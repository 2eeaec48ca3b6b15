"""Claimed files on their way through Prefect: one `ocr-inbox` run each, followed to its end.

This is the watcher's only door to Prefect (its REST API, `watch/api.py`). A run is named after
its file and tagged with its path, so operators find every file in the UI. Its idempotency key
is the file's claim and the submission number, which is kept in the claim folder: a watcher
that restarts and submits a claim again gets the existing run back, never a second one. How a
run ended is read first from the claim folder (the outcome the flow left, or the time-out mark
its worker left before stopping), then from Prefect: a run that ended without an outcome, or
whose process died without a word, crashed.
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

from core.values import InboxFile
from store import claims
from watch.api import PrefectApi, Run, ServerBusy

__all__ = ["Ended", "ServerBusy", "Submitter", "Tracked"]

log = logging.getLogger(__name__)

DEPLOYMENT = "ocr-inbox/ocr-inbox"
TAG_LENGTH = 500  # Prefect accepts long tags; a path longer than this is cut
How = Literal["outcome", "timeout", "crashed", "cancelled"]


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
        self._api: PrefectApi | None = None

    def __len__(self) -> int:
        return len(self.tracked)

    @property
    def api(self) -> PrefectApi:
        """One session for the watcher's life (a new one costs a TLS context)."""
        if self._api is None:
            self._api = PrefectApi()
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

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
        missing = [t for t in self.tracked.values() if t.run_id is None]
        if missing:
            self.deployment_id()  # not deployed yet is the service's state, not the files' fault
        for tracked in missing:
            try:
                self._create(tracked)
            except (ServerBusy, httpx.TransportError):
                raise
            except (UnicodeError, ValueError, TypeError, httpx.HTTPStatusError) as exc:
                refused.append((tracked, exc))
        return refused

    def deployment_id(self) -> UUID:
        if self._deployment_id is None:
            self._deployment_id = self.api.deployment_id(self.deployment)
        return self._deployment_id

    def _create(self, tracked: Tracked) -> None:
        count = claims.submissions(tracked.claim)
        if not count or tracked.again:  # a first run, or a new one after one that ended
            count = claims.count_submission(tracked.claim)
        run = self._post_run(tracked, count)
        tracked.run_id, tracked.again = run.id, False
        log.info("%s: run %s (%s)", tracked.file.relative_path, run.name, run.id)

    def _post_run(self, tracked: Tracked, submission: int) -> Run:
        body = {
            "name": tracked.run_name(),
            "parameters": {"file": asdict(tracked.file)},
            "tags": tracked.tags(),
            "idempotency_key": tracked.idempotency_key(submission),
        }
        return self.api.create_run(self.deployment_id(), body)

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
        ids = [str(run_id) for run_id in runs]
        found = {run.id: run for run in self.api.runs({"id": {"any_": ids}}, len(ids))}
        ended = []
        for run_id, tracked in runs.items():
            run = found.get(run_id)
            if (outcome := claims.read(tracked.claim / claims.OUTCOME)) is not None:
                ended.append(Ended(tracked, "outcome", outcome))  # it ended meanwhile
            elif run is not None and run.final:
                how: How = "cancelled" if run.state == "CANCELLED" else "crashed"
                ended.append(Ended(tracked, how, {}))
            elif run is None or claims.run_died(tracked.claim, run_id):
                if run is not None:
                    self.mark(run_id, "CRASHED", "its worker process died")
                ended.append(Ended(tracked, "crashed", {}))
        return ended

    def fail(self, run_id: UUID | None, reason: str) -> None:
        """Mark a run Failed with `reason` (best effort: the file is placed in any case)."""
        if run_id is not None:
            self.mark(run_id, "FAILED", reason)

    def mark(self, run_id: UUID, state: str, message: str) -> None:
        """Force a run into `state` (CRASHED or FAILED), best effort."""
        try:
            self.api.set_state(run_id, state, state.title(), message)
        except (ServerBusy, httpx.HTTPError) as exc:  # the UI catches up at the next sweep
            log.debug("run %s not marked %s: %s", run_id, state, exc)

    def sweep(self, processing: Path, grace: float) -> int:
        """`ocr-inbox` runs left Pending or Running by a process that is gone (killed with
        its service, or out of memory) are marked Crashed, so none stays Running for ever. A
        run is gone when its claim's mark names a dead process, or when no mark of it
        appeared within `grace` seconds of its last state change (a live run marks its claim
        at once)."""
        stuck = self.api.runs(
            {
                "deployment_id": {"any_": [str(self.deployment_id())]},
                "state": {"type": {"any_": ["PENDING", "RUNNING"]}},
            },
            200,
        )
        swept = [run for run in stuck if not _alive(run, processing, grace)]
        for run in swept:
            self.mark(run.id, "CRASHED", "its worker process is gone")
            log.warning(
                "run %s (%s) was left %s by a process that is gone: marked Crashed",
                run.name,
                run.id,
                run.state_name or "unfinished",
            )
        return len(swept)


def _alive(run: Run, processing: Path, grace: float) -> bool:
    claim = claims.of_run(processing, run.parameters)
    if claim is None:
        return True  # not a hot-folder run: not ours to judge
    marker = claims.read(claim / claims.RUN)
    if marker is not None and marker.get("flow_run_id") == str(run.id):
        return not claims.run_died(claim, run.id)
    return run.since is not None and (datetime.now(UTC) - run.since).total_seconds() < grace
