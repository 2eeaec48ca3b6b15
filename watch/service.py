"""The watcher: watchdog events and rescans feed readiness; ready files are claimed one by one.

The folder is the queue: at most `max_pending` files are claimed and in flight (a few per
worker, so a worker finishing one finds the next waiting), and a burst of a thousand files
stays on disk. Each claimed file gets its own run; content already processed (or being
processed) is a duplicate and gets none. The watcher owns the live DuckDB: it loads the results
workers spool, places files when their runs end and republishes the analysts' snapshot when
the database changed, at most every `snapshot_interval`. Nothing raises out of `tick`, and each
file is handled on its own: one bad file, an absent Prefect server or a busy database only
delay the others.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from core.settings import Settings
from core.values import InboxFile
from store import claims, schema
from store.db import Store
from store.placement import place_duplicate, quarantine, refused
from store.spool import load_spool
from watch import health
from watch.follow import Follow
from watch.inbox import NETWORK_FILESYSTEMS, Inbox, filesystem_type
from watch.stability import Clock, Readiness
from watch.submit import Ended, ServerBusy, Submitter, Tracked

log = logging.getLogger(__name__)
TICK = 0.25  # seconds between two rounds (readiness, outcomes, spool, snapshot)
FOLLOW = 3.0  # seconds between two looks at the runs' states in Prefect (crashes only: a
#              run that ended well says so in its claim folder, seen every tick)
SWEEP = 30.0  # seconds between two looks for runs left Running by a process that is gone
IDLE = 2.0  # seconds without files in flight before the live database is let go


# What an event says of its file's writer (stability.Readiness.touch): done with it (closed
# after writing, or renamed into place), still at it, or nothing (metadata only, as `cp`
# leaves after its close).
WRITER_DONE = {"closed": True, "moved": True, "attrib": None}


class _Events(FileSystemEventHandler):
    """Hands (path, writer done?) of watchdog events in the inbox to the watcher's loop
    (thread-safe queue). `trust_close`: False when polling, which sees no closes and whose
    renames may be a network writer's half-written file."""

    def __init__(
        self, sink: queue.SimpleQueue[tuple[Path, bool | None]], trust_close: bool
    ) -> None:
        self.sink = sink
        self.trust_close = trust_close

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("deleted", "opened", "closed_no_write"):
            return
        done = WRITER_DONE.get(event.event_type, False) if self.trust_close else False
        self.sink.put((Path(_event_path(event)), done))


class _Outcomes(FileSystemEventHandler):
    """Wakes the watcher's loop when a run leaves its outcome (or a time-out mark) in its
    claim folder, so the file is placed now rather than at the next round."""

    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type != "deleted" and _event_path(event).endswith(
            (claims.OUTCOME, claims.TIMEOUT)
        ):
            self.wake.set()


def _event_path(event: FileSystemEvent) -> str:
    """Where the event leaves its file: a rename's destination, else its path."""
    return os.fsdecode(getattr(event, "dest_path", "") or event.src_path)


class Watcher:
    """Detects ready files, hands each to Prefect and places it when its run ends."""

    def __init__(
        self, settings: Settings, submitter: Submitter | None = None, clock: Clock = time.monotonic
    ) -> None:
        self.settings = settings
        self.store = Store.from_settings(settings).owner()
        self.inbox = Inbox(settings.inbox, settings.processing, settings.watch_ignore)
        self.readiness = Readiness(
            settings.watch_quiet_seconds, settings.watch_settle_seconds, clock
        )
        self.submitter = submitter if submitter is not None else Submitter()
        self.follow = Follow(settings, self.store, self.submitter)
        self.clock = clock
        self.max_pending = 4 * settings.worker_count
        self.events: queue.SimpleQueue[tuple[Path, bool | None]] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.wake = threading.Event()  # a round now: an outcome left, or a stop asked
        self.held: list[Tracked] = []  # duplicates of content in flight, until it ends
        self._next_rescan = self._next_follow = self._next_sweep = 0.0
        self._started = datetime.now(UTC)
        self._idle_since: float | None = None
        self._placed_when_idle: datetime | None = None  # the last placement before this spell
        self._first_shown = False  # this busy spell's first placement is published

    def run(self) -> None:
        """Watch until `stop()` (or SIGTERM/Ctrl-C in the CLI)."""
        self.inbox.check()
        observer = self.start_observer()
        try:
            self.recover(at_start=True)
            while not self.stopping.is_set():
                self.wake.clear()  # an outcome left during the round calls for another
                self.tick()
                self._pause()
        finally:
            self.store.let_go()
            self.submitter.close()
            observer.stop()
            observer.join(timeout=10)
            health.clear(self.settings)
            log.info("watcher stopped; %d file(s) in flight continue", len(self.submitter))

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def _pause(self) -> None:
        """Until the next round: TICK at most; less when a file's quiet period ends sooner
        and there is room to claim it, or when a run leaves its outcome."""
        pause = TICK
        due = self.readiness.due_in()
        if due is not None and len(self.submitter) < self.max_pending:
            pause = min(pause, max(due, 0.01))
        self.wake.wait(pause)

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
        poll = self.settings.watch_polling
        observer = PollingObserver(timeout=self.settings.watch_poll_seconds) if poll else Observer()
        observer.schedule(_Events(self.events, not poll), str(self.inbox.root), recursive=True)
        if not poll:  # polled, outcomes are seen at the next round as before
            observer.schedule(_Outcomes(self.wake), str(self.inbox.processing), recursive=True)
        observer.start()
        log.info(
            "watching %s (%s, quiet %gs%s, up to %d file(s) in flight)",
            self.inbox.root,
            "polling" if poll else "native events",
            self.readiness.quiet,
            "" if poll else f", {self.readiness.settle:g}s once its writer closed a file",
            self.max_pending,
        )
        return observer

    def recover(self, at_start: bool = False) -> None:
        """Claims in processing/ that nothing follows (left by a watcher that stopped): each is
        followed again, getting its last run back from Prefect, or a first one."""
        tracked_claims = {t.claim for t in [*self.submitter.tracked.values(), *self.held]}
        for claim, file in self.inbox.claims().items():
            if claim in tracked_claims:
                continue
            log.info("%s: claimed earlier (%s), following it", file.relative_path, claim.name)
            self.submitter.add(file, claim)
            if at_start:
                self.follow.recovered.add(file.file_id)

    def tick(self) -> None:
        """One round; each step on its own, so one that fails never stops the others."""
        self._hold_database()
        steps: tuple[Callable[[], None], ...] = (
            self._take_events,
            self._rescan,
            self._claim_ready,
            self._settle_by_markers,
            self._follow_runs,
            self._load_results,
            self._publish,
            self._beat,
        )
        for step in steps:
            try:
                step()
            except ServerBusy as exc:  # SQLite's write lock, routine under load: next round
                log.debug("watcher: %s: %s", step.__name__.strip("_"), exc)
            except Exception as exc:
                log.warning(
                    "watcher: %s failed: %s: %s", step.__name__.strip("_"), type(exc).__name__, exc
                )

    def _hold_database(self) -> None:
        """While files are in flight the live database stays open (a transaction then costs
        a few milliseconds, not an opening); idle, it is let go for other writers."""
        if self._busy():
            self._idle_since = None
            try:
                self.store.hold()
            except Exception as exc:  # busy elsewhere: each step opens it as it needs
                log.debug("live database not held: %s", exc)
        elif self._idle_since is None:
            self._idle_since = self.clock()
        elif self.clock() - self._idle_since >= IDLE:
            self.store.let_go()

    def _busy(self) -> bool:
        """Files in flight, held, or results not loaded yet."""
        return bool(len(self.submitter) or self.held or self._spooled())

    def _spooled(self) -> bool:
        return any(self.settings.spool.glob("*.json"))

    def _take_events(self) -> None:
        while True:
            try:
                path, writer_done = self.events.get_nowait()
            except queue.Empty:
                return
            if path.is_relative_to(self.inbox.root) and not self.inbox.ignored(path):
                self.readiness.touch(path, writer_done)

    def _rescan(self) -> None:
        if self.clock() < self._next_rescan:
            return
        self._next_rescan = self.clock() + self.settings.watch_rescan_seconds
        self.recover()
        for path in self.inbox.scan():
            if path not in self.readiness:
                self.readiness.touch(path)

    def _claim_ready(self) -> None:
        """Claim ready files while fewer than `max_pending` are in flight, each on its own."""
        self._look_again()
        claimed: list[tuple[Path, InboxFile]] = []
        for path in self.readiness.ready():
            if len(self.submitter) + len(claimed) >= self.max_pending:
                break
            self.readiness.forget(path)
            try:
                if (refusal := self.inbox.refusal(path)) is not None:
                    self._refuse(
                        refusal.path, refusal.relative_path, refusal.error_type, refusal.reason
                    )
                elif self.inbox.opens(path) and (won := self.inbox.claim(path)) is not None:
                    claimed.append(won)
            except Exception as exc:  # this file waits for the next rescan; others go on
                log.warning("%s: not claimed: %s: %s", path, type(exc).__name__, exc)
        if claimed:
            self._dispatch(claimed)

    def _dispatch(self, claimed: list[tuple[Path, InboxFile]]) -> None:
        """Record the claims, then: done content is a duplicate at once, content in flight
        waits for its twin, the rest gets a run."""
        now = datetime.now(UTC)
        rows = [
            (f.file_id, f.relative_path, f.sha256, f.size, f.path, None, now, now)
            for _, f in claimed
        ]
        self.store.write(schema.CLAIM_FILE, rows)
        statuses = dict(self.store.read(schema.DOCUMENT_STATUSES, [[f.sha256 for _, f in claimed]]))
        for claim, file in claimed:
            log.info("%s: claimed (%s)", file.relative_path, claim.name)
            tracked = Tracked(file, claim)
            if statuses.get(file.sha256) == "done":
                self._duplicate(tracked)
            elif self._in_flight(file.sha256):
                self.held.append(tracked)
            else:
                self.submitter.add(file, claim)

    def _in_flight(self, sha256: str) -> bool:
        return any(t.file.sha256 == sha256 for t in self.submitter.tracked.values())

    def _duplicate(self, tracked: Tracked) -> None:
        original = self.store.read(schema.ORIGINAL_OF, [tracked.file.sha256])
        place_duplicate(tracked.file, original[0][:2], self.store, self.settings, None)
        claims.release(tracked.claim, self.settings.processing)

    def _release_held(self) -> None:
        """Held duplicates whose twin ended: a duplicate now, or a run of their own."""
        waiting, self.held = self.held, []
        for tracked in waiting:
            if self._in_flight(tracked.file.sha256):
                self.held.append(tracked)
            elif self.store.document_status(tracked.file.sha256) == "done":
                self._duplicate(tracked)
            else:
                self.submitter.add(tracked.file, tracked.claim)

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
                if (refusal := self.inbox.refusal(path)) is not None:
                    self._refuse(path, refusal.relative_path, refusal.error_type, refusal.reason)
            else:
                self.readiness.observe(path, info.st_size, info.st_mtime)

    def _refuse(self, path: Path, relative_path: str, error_type: str, reason: str) -> None:
        try:
            quarantine(path, refused(relative_path), error_type, reason, self.store, self.settings)
        except Exception as exc:  # the next rescan finds it again
            log.warning("%s: not quarantined yet: %s", relative_path, exc)

    def _settle_by_markers(self) -> None:
        """Files whose run left an outcome or a time-out mark: placed now."""
        self._settle_all(self.submitter.by_markers())

    def _follow_runs(self) -> None:
        """Create missing runs (every round); settle the runs that ended in Prefect without a
        word (every FOLLOW); mark Crashed the runs a dead process left Running (every SWEEP)."""
        if not len(self.submitter) and self.clock() < self._next_sweep:
            return
        if self.clock() >= self._next_sweep:
            self._next_sweep = self.clock() + SWEEP
            self.submitter.sweep(self.settings.processing, SWEEP)
        for tracked, exc in self.submitter.submit():
            self.follow.give_up(
                tracked, "unsupported_file", f"no run could be created: {exc}", None
            )
        if self.clock() < self._next_follow:
            return
        self._next_follow = self.clock() + FOLLOW
        self._settle_all(self.submitter.by_states())

    def _settle_all(self, ended: list[Ended]) -> None:
        """Place the files of runs that ended, their results loaded first; then the held
        duplicates of their content."""
        if not ended:
            return
        self._load_results()  # their results land before they are placed
        for one in ended:
            self._settle(one)
        self._release_held()

    def _settle(self, ended: Ended) -> None:
        try:
            self.follow.settle(ended)
        except Exception as exc:  # this file is settled again next round; the others go on
            log.warning(
                "%s: not settled yet: %s: %s",
                ended.tracked.file.relative_path,
                type(exc).__name__,
                exc,
            )

    def _load_results(self) -> None:
        """Results spooled by workers (this machine's, or other machines') land in DuckDB."""
        if self.settings.spool.is_dir():
            load_spool(self.settings.spool, self.store)

    def _publish(self) -> None:
        """The analysts' snapshot, when the database changed: at most every interval while
        files are in flight, at once for the first file placed and the last (neither is kept
        waiting for an interval that the claims of its own burst started)."""
        if not self._busy():
            self._placed_when_idle, self._first_shown = self.follow.last_placed, False
            self.store.refresh_snapshot(settled=True)
            return
        first = not self._first_shown and self.follow.last_placed != self._placed_when_idle
        self._first_shown |= first
        self.store.refresh_snapshot(settled=first)

    def _beat(self) -> None:
        """state/watcher.json: alive, and what it has in hand (for `tool-ocr status`)."""
        last = self.follow.last_placed
        health.beat(
            self.settings,
            {
                "inbox": str(self.inbox.root),
                "started_at": self._started.isoformat(timespec="seconds"),
                "waiting": len(self.readiness),
                "in_flight": [
                    {
                        "file": t.file.relative_path,
                        "run": str(t.run_id) if t.run_id else None,
                        "claim": t.claim.name,
                    }
                    for t in self.submitter.tracked.values()
                ],
                "held": len(self.held),
                "last_placed_at": last.isoformat(timespec="seconds") if last else None,
                "polling": self.settings.watch_polling,
            },
        )
