"""`tool-ocr worker`: a Prefect worker that runs the work pool's flow runs in its own process.

Prefect's process worker starts a new Python process, and so loads the OCR model, for every
run. This worker takes the same runs from the same work pool and claims them the same way (the
Pending transition, which only one worker can make), but runs each inside this long-lived
process, one at a time, with the engine loaded once: a one-page file costs its OCR, not a
process start. Runs of other deployments on the pool are left to other workers.

The run executes in a thread of its own; the main thread keeps the time limit (a file read for
longer than `file_timeout` has its claim marked and this process killed, which a hung library
cannot ignore: the supervisor starts a new worker), the heartbeats, and SIGTERM (the file in
hand may finish within STOP_GRACE; otherwise its run is cancelled and the file stays claimed
for the next start).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import prefect.flow_engine
import prefect.settings
from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
    WorkPoolFilter,
    WorkPoolFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.context import SyncClientContext
from prefect.exceptions import Abort
from prefect.flow_engine import run_flow
from prefect.settings import temporary_settings
from prefect.states import Cancelled, Pending
from prefect.utilities.engine import propose_state_sync

from core.settings import Settings
from engine import get_engine
from store import claims, workers
from tasks.ocr import engine_config

log = logging.getLogger(__name__)

POLL = 0.25  # seconds between two looks for scheduled runs while idle
HEARTBEAT = 30.0  # seconds between two worker heartbeats to the work pool
STOP_GRACE = 20.0  # seconds the file in hand may take to finish once a stop is asked


@dataclass
class Current:
    """The run in hand: since when, and the claim folder of its file (hot-folder runs)."""

    run: FlowRun
    started: float
    claim: Path | None = None


def flows() -> dict[str, Flow[Any, Any]]:
    """The flows this worker runs, by deployment name."""
    from flows.ocr_document import ocr_document
    from flows.ocr_inbox import ocr_inbox
    from flows.prune_expired import prune_expired

    return {"ocr-inbox": ocr_inbox, "prune-expired": prune_expired, "ocr-document": ocr_document}


class Worker:
    """Claims scheduled runs of our deployments on the work pool and runs them in-process."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"tool-ocr {socket.gethostname()} {os.getpid()}"
        self.flows = flows()
        self.stopping = threading.Event()
        self.current: Current | None = None
        self._names: dict[UUID, str | None] = {}  # deployment id -> name (ours only)
        self._beat = self._recorded = self._polled = 0.0

    def run(self) -> bool:
        """Load the engine, then take runs until SIGTERM/SIGINT (or `stop()`); False when a
        run was still in hand at the end (cancelled)."""
        skip_suspension_watch()
        get_engine(engine_config(self.settings))  # once, before the first file waits on it
        workers.record(self.settings.state, self.name, None)
        runner = threading.Thread(target=self._serve, name="runs", daemon=True)
        runner.start()
        log.info("worker %s on work pool %s: ready", self.name, self.settings.work_pool)
        while runner.is_alive() and not self.stopping.wait(1.0):
            self._keep_time()
        return self._finish(runner)

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _serve(self) -> None:
        """The runs thread: poll, claim, run; never raises (a bad run only fails itself)."""
        # Prefect's flow-run heartbeats would make every run wait up to a second at its end;
        # one client for all runs spares each its own connection pool and TLS context.
        with (
            temporary_settings(updates={prefect.settings.PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
            SyncClientContext.get_or_create() as context,
        ):
            client = context.client
            while not self.stopping.is_set():
                try:
                    self._heartbeat(client)
                    run = self._claim_next(client)
                except Exception as exc:  # the server away or busy: try again shortly
                    log.warning("worker: could not take a run: %s: %s", type(exc).__name__, exc)
                    run = None
                    self.stopping.wait(5)
                if run is None:
                    self.stopping.wait(POLL)
                    continue
                self._execute(run)

    def _claim_next(self, client: SyncPrefectClient) -> FlowRun | None:
        """The first scheduled run of one of our deployments that this worker won."""
        for run in self._scheduled(client):
            if self._deployment(client, run) is None:
                continue
            try:
                won = propose_state_sync(client, Pending(), flow_run_id=run.id).is_pending()
            except Abort:  # another worker claimed it first
                continue
            if won:
                return client.read_flow_run(run.id)
        return None

    def _scheduled(self, client: SyncPrefectClient) -> list[FlowRun]:
        """Runs on the pool due to start, oldest first. Polling the pool itself is also a
        write (Prefect records when each queue was polled), and on SQLite every write delays
        the others: so the pool is polled every HEARTBEAT, which keeps it Ready in the UI, and
        read in between."""
        now = datetime.now(UTC)
        if time.monotonic() - self._polled >= HEARTBEAT:
            self._polled = time.monotonic()
            return [
                scheduled.flow_run
                for scheduled in client.get_scheduled_flow_runs_for_work_pool(
                    self.settings.work_pool, scheduled_before=now
                )
            ]
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=now),
            ),
            work_pool_filter=WorkPoolFilter(
                name=WorkPoolFilterName(any_=[self.settings.work_pool])
            ),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=10,
        )

    def _deployment(self, client: SyncPrefectClient, run: FlowRun) -> str | None:
        """The name of `run`'s deployment when it is one of ours, else None."""
        if run.deployment_id is None:
            return None
        if run.deployment_id not in self._names:
            name = client.read_deployment(run.deployment_id).name
            self._names[run.deployment_id] = name if name in self.flows else None
        return self._names[run.deployment_id]

    def _execute(self, run: FlowRun) -> None:
        name = self._names[run.deployment_id] if run.deployment_id else None
        assert name is not None
        claim = claims.of_run(self.settings.processing, run.parameters or {})
        self.current = Current(run, time.monotonic(), claim)
        workers.record(
            self.settings.state,
            self.name,
            {"id": str(run.id), "name": run.name, "started": time.time()},
        )
        try:
            state = run_flow(self.flows[name], flow_run=run, return_type="state")
            log.debug("run %s (%s) ended %s", run.name, run.id, getattr(state, "name", state))
        except BaseException as exc:  # noqa: BLE001 - a run's failure never ends the worker
            log.error(
                "run %s (%s) ended abnormally: %s: %s", run.name, run.id, type(exc).__name__, exc
            )
        finally:
            self.current = None
            workers.record(self.settings.state, self.name, None)

    def _heartbeat(self, client: SyncPrefectClient) -> None:
        """Tell the work pool this worker is alive (the UI lists it under the pool)."""
        if time.monotonic() - self._beat >= HEARTBEAT:
            client.send_worker_heartbeat(
                self.settings.work_pool, self.name, heartbeat_interval_seconds=HEARTBEAT
            )
            self._beat = time.monotonic()

    def _keep_time(self) -> None:
        """The main thread's round: the file time limit; this worker's record kept fresh."""
        current = self.current
        if time.monotonic() - self._recorded >= HEARTBEAT:
            run = None if current is None else {"id": str(current.run.id), "name": current.run.name}
            workers.record(self.settings.state, self.name, run)
            self._recorded = time.monotonic()
        if current is None or current.claim is None:
            return
        elapsed = time.monotonic() - current.started
        if elapsed > self.settings.file_timeout:
            self._out_of_time(current, elapsed)

    def _out_of_time(self, current: Current, elapsed: float) -> None:
        """Stop this process: the file is quarantined as `timeout` by the watcher."""
        assert current.claim is not None
        claims.mark_timeout(current.claim, str(current.run.id), elapsed)
        log.error(
            "%s: still being read after %.0f s (limit %g s, TOOL_OCR_FILE_TIMEOUT): "
            "stopping this worker; the file goes to failed/ as timeout",
            current.run.name,
            elapsed,
            self.settings.file_timeout,
        )
        logging.shutdown()
        os.kill(os.getpid(), signal.SIGKILL)

    def _finish(self, runner: threading.Thread) -> bool:
        """Let the file in hand finish within STOP_GRACE, else cancel its run and go."""
        runner.join(STOP_GRACE)
        current = self.current
        workers.remove(self.settings.state)
        if not runner.is_alive():
            log.info("worker %s stopped", self.name)
            return True
        if current is not None:
            log.warning(
                "%s: not finished within %gs of the stop; cancelled, it stays claimed "
                "and is read again at the next start",
                current.run.name,
                STOP_GRACE,
            )
            try:
                with get_client(sync_client=True) as client:
                    client.set_flow_run_state(
                        current.run.id, Cancelled(message="stopped with its worker"), force=True
                    )
            except Exception as exc:
                log.warning("run %s not marked cancelled: %s", current.run.id, exc)
        return False


@contextmanager
def _unwatched(*_: object, **__: object) -> Iterator[None]:
    yield


def skip_suspension_watch() -> None:
    """Prefect (3.9) opens an events websocket for every deployment run, to learn that it was
    suspended from outside, and the run waits for it to connect before it starts. These runs
    are never suspended (a suspended file would sit claimed), and the watch cost a tenth of the
    hot folder's throughput on one-page files, in this process and in the server
    (docs/benchmarks.md). A Prefect without the hook loses only this saving."""
    if hasattr(prefect.flow_engine, "observe_flow_run_suspension"):
        prefect.flow_engine.observe_flow_run_suspension = _unwatched


def serve(settings: Settings) -> None:
    """Run one worker in this process until SIGTERM or Ctrl-C."""
    worker = Worker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    if not worker.run():
        logging.shutdown()
        os._exit(0)  # the run still in hand (cancelled) must not hold the process open
