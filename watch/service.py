"""The watcher: watchdog events and rescans feed readiness; ready files are claimed in batches.

The folder is the queue. At most `settings.runs + 1` batches are in flight (one waiting behind
the running ones), so a burst of a thousand files stays on disk instead of becoming a thousand
runs; when many files wait, one run takes several (up to `batch_max_files`), so the process
start and the model load are paid once per batch. Nothing here raises out of `tick`: a bad
file, an absent Prefect server or a busy database only delay things.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import socket
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from core.settings import Settings
from core.values import InboxFile
from store import schema
from store.db import Store
from store.folders import quarantine
from store.spool import load_spool
from watch.inbox import NETWORK_FILESYSTEMS, Inbox, filesystem_type
from watch.stability import Clock, Readiness
from watch.submit import Batch, Submitter

log = logging.getLogger(__name__)
TICK = 0.5  # seconds between two looks at the readiness of candidates
FOLLOW = 2.0  # seconds between two looks at the runs in flight


class _Events(FileSystemEventHandler):
    """Hands the paths of watchdog events to the watcher's loop (thread-safe queue)."""

    def __init__(self, sink: queue.SimpleQueue[Path]) -> None:
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("deleted", "opened", "closed_no_write"):
            return
        path = getattr(event, "dest_path", "") or event.src_path
        self.sink.put(Path(os.fsdecode(path)))


class Watcher:
    """Detects ready files in the inbox and hands them to Prefect; never processes them."""

    def __init__(
        self, settings: Settings, submitter: Submitter | None = None, clock: Clock = time.monotonic
    ) -> None:
        self.settings = settings
        self.inbox = Inbox(settings.inbox, settings.processing, settings.watch_ignore)
        self.readiness = Readiness(settings.watch_quiet_seconds, clock)
        self.submitter = submitter if submitter is not None else Submitter()
        self.clock = clock
        self.max_pending = settings.runs + 1
        self.events: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.heartbeat = settings.state / "watcher.json"
        self._next_rescan = self._next_follow = 0.0
        self._started = datetime.now(UTC)

    def run(self) -> None:
        """Watch until `stop()` (or SIGTERM/Ctrl-C in the CLI)."""
        self.inbox.check()
        observer = self.start_observer()
        try:
            while not self.stopping.is_set():
                self.tick()
                self.stopping.wait(TICK)
        finally:
            observer.stop()
            observer.join(timeout=10)
            self.heartbeat.unlink(missing_ok=True)
            log.info(
                "watcher stopped; %d batch(es) in flight continue in Prefect", len(self.submitter)
            )

    def stop(self) -> None:
        self.stopping.set()

    def start_observer(self) -> BaseObserver:
        """Native events, or polling (SMB/NFS, where native events never fire)."""
        fstype = filesystem_type(self.inbox.root)
        if fstype in NETWORK_FILESYSTEMS and not self.settings.watch_polling:
            log.warning(
                "!!! the inbox %s is on a network filesystem (%s): native events from "
                "other machines never arrive; set TOOL_OCR_WATCH_POLLING=true. Until "
                "then files are only found by the rescan every %gs",
                self.inbox.root,
                fstype,
                self.settings.watch_rescan_seconds,
            )
        observer = (
            PollingObserver(timeout=self.settings.watch_poll_seconds)
            if self.settings.watch_polling
            else Observer()
        )
        observer.schedule(_Events(self.events), str(self.inbox.root), recursive=True)
        observer.start()
        log.info(
            "watching %s (%s, quiet %gs, up to %d run(s) in flight, batches of up to %d)",
            self.inbox.root,
            "polling" if self.settings.watch_polling else "native events",
            self.readiness.quiet,
            self.max_pending,
            self.settings.batch_max_files,
        )
        return observer

    def recover(self) -> None:
        """Claims in processing/ that no run of ours follows (left by a watcher that stopped,
        or stranded by an error) go to Prefect again; a live run is found by its key."""
        for claim_id, files in self.inbox.claims().items():
            if claim_id not in self.submitter.batches and files:
                log.info("%s: %d claimed file(s) not followed, submitting", claim_id, len(files))
                self.submitter.add(claim_id, files)

    def tick(self) -> None:
        """One round: events, rescan, readiness, claims, runs in flight, heartbeat."""
        for step in (
            self._take_events,
            self._rescan,
            self._claim_ready,
            self._follow,
            self._load_results,
            self._beat,
        ):
            try:
                step()
            except Exception as exc:  # one bad round never stops the watcher
                log.warning(
                    "watcher: %s failed: %s: %s", step.__name__.strip("_"), type(exc).__name__, exc
                )

    def _take_events(self) -> None:
        while True:
            try:
                path = self.events.get_nowait()
            except queue.Empty:
                return
            if path.is_relative_to(self.inbox.root) and not self.inbox.ignored(path):
                self.readiness.touch(path)

    def _rescan(self) -> None:
        if self.clock() < self._next_rescan:
            return
        self._next_rescan = self.clock() + self.settings.watch_rescan_seconds
        self.recover()
        for path in self.inbox.scan():
            if path not in self.readiness:
                self.readiness.touch(path)

    def _claim_ready(self) -> None:
        self._look_again()
        free = self.max_pending - len(self.submitter)
        ready = self.readiness.ready() if free > 0 else []
        while free > 0 and ready:
            size = min(self.settings.batch_max_files, math.ceil(len(ready) / free))
            batch = [path for path in ready[:size] if self.inbox.opens(path)]
            ready = ready[size:]
            for path in batch:
                self.readiness.forget(path)
            if not batch:
                continue
            claim_id, files = self.inbox.claim(batch)
            if files:
                log.info("%s: claimed %s", claim_id, ", ".join(f.relative_path for f in files))
                self.submitter.add(claim_id, files)
                self._record_claims(files)
                free -= 1
        if len(self.submitter) and any(b.run_id is None for b in self.submitter.batches.values()):
            self._next_follow = 0.0  # create the new runs now, not at the next follow-up

    def _record_claims(self, files: list[InboxFile]) -> None:
        """`files` rows say 'processing' while a file is claimed (best effort: the run's
        placement writes the final row in any case)."""
        now = datetime.now(UTC)
        rows = [
            (f.file_id, f.relative_path, f.sha256, f.size, f.path, None, now, now) for f in files
        ]
        try:
            Store.from_settings(self.settings, lock_timeout=5).write(schema.CLAIM_FILE, rows)
        except Exception as exc:
            log.warning("claims not recorded in DuckDB yet (%s); their runs record them", exc)

    def _look_again(self) -> None:
        """Stat every candidate: gone ones are forgotten, links and FIFOs quarantined."""
        for path in self.readiness.paths():
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                self.readiness.forget(path)
                continue
            if not stat.S_ISREG(info.st_mode):
                self.readiness.forget(path)
                self._refuse(path)
            else:
                self.readiness.observe(path, info.st_size, info.st_mtime)

    def _refuse(self, path: Path) -> None:
        refusal = self.inbox.refusal(path)
        if refusal is not None:
            quarantine(
                path, refusal.relative_path, refusal.error_type, refusal.reason, self.settings
            )

    def _follow(self) -> None:
        if not len(self.submitter) or self.clock() < self._next_follow:
            return
        self._next_follow = self.clock() + FOLLOW
        for batch in self.submitter.poll(self.inbox.processing):
            self._give_up(batch)

    def _give_up(self, batch: Batch) -> None:
        """Quarantine what crashed runs left; a file that cannot be moved now is found by the
        next rescan's recovery."""
        reason = (
            f"its runs crashed {batch.crashes} times without placing it (last run "
            f"{batch.run_id}): see that run's logs in Prefect"
        )
        for file in batch.files:
            try:
                quarantine(
                    Path(file.path),
                    file.relative_path,
                    "run_crashed",
                    reason,
                    self.settings,
                    sha256=file.sha256,
                    size=file.size,
                    file_id=file.file_id,
                )
            except Exception as exc:
                log.warning("%s: not quarantined yet: %s", file.relative_path, exc)

    def _load_results(self) -> None:
        """Results spooled by workers on other machines land in DuckDB here."""
        spool = self.settings.results_spool
        if spool is not None and spool.is_dir():
            store = Store.from_settings(self.settings).owner()
            load_spool(spool, store)
            store.refresh_snapshot()  # throttled; catches up on the last loads of a burst

    def _beat(self) -> None:
        """state/watcher.json: what `tool-ocr status` reads to say the watcher is alive."""
        body = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "inbox": str(self.inbox.root),
            "started_at": self._started.isoformat(timespec="seconds"),
            "beat_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "candidates": len(self.readiness),
            "batches_in_flight": len(self.submitter),
            "polling": self.settings.watch_polling,
        }
        tmp = self.heartbeat.with_name(f".{self.heartbeat.name}.tmp")
        tmp.write_text(json.dumps(body), "utf-8")
        os.replace(tmp, self.heartbeat)
