"""What the watcher does when a file's run ended: place it, or give it another run.

With an outcome (the flow's own), the file is placed as it says. Out of time, it goes to
failed/ as `timeout`. A crash is pinned on the file whose run crashed: it gets another run, and
after MAX_CRASHES crashed runs it goes to failed/ as `run_crashed`. A run cancelled because the
service stopped, or found dead when the watcher starts (the whole service went down), is not
the file's fault: it just gets another run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from core.settings import Settings
from store import claims, schema
from store.db import Store
from store.folders import discard_work
from store.placement import place, quarantine
from watch.submit import Ended, Submitter, Tracked

log = logging.getLogger(__name__)

MAX_CRASHES = 3


class Follow:
    """Settles the files whose runs ended."""

    def __init__(self, settings: Settings, store: Store, submitter: Submitter) -> None:
        self.settings, self.store, self.submitter = settings, store, submitter
        self.recovered: set[str] = set()  # file ids found claimed when the watcher started
        self.last_placed: datetime | None = None

    def settle(self, ended: Ended) -> None:
        """One ended run: its file placed, or given another run by the next submission."""
        tracked = ended.tracked
        run = str(tracked.run_id) if tracked.run_id else None
        if ended.how == "outcome":
            run = ended.outcome.get("flow_run_id") or run
            self._placed(
                tracked, place(tracked.file, ended.outcome, self.store, self.settings, run)
            )
        elif ended.how == "timeout":
            self.give_up(tracked, "timeout", self._timeout_reason(), run)
        elif ended.how == "cancelled" or tracked.file.file_id in self.recovered:
            self.recovered.discard(tracked.file.file_id)
            self._again(tracked, f"its run ended {ended.how} with the service")
        elif (crashes := claims.count_crash(tracked.claim)) >= MAX_CRASHES:
            reason = (
                f"its runs crashed {crashes} times while reading it (last run {run}): "
                "see that run's logs in Prefect"
            )
            self.give_up(tracked, "run_crashed", reason, run)
        else:
            self._again(tracked, f"its run crashed ({crashes} of {MAX_CRASHES})")

    def _timeout_reason(self) -> str:
        return (
            f"reading it took longer than {self.settings.file_timeout:g} s "
            "(TOOL_OCR_FILE_TIMEOUT); its worker was stopped"
        )

    def _again(self, tracked: Tracked, why: str) -> None:
        log.warning("%s: %s; reading it again", tracked.file.relative_path, why)
        self.submitter.again(tracked)

    def give_up(self, tracked: Tracked, error_type: str, reason: str, run: str | None) -> None:
        """Quarantine the file, fail its document and its run."""
        now = datetime.now(UTC)
        self.store.apply(
            [(schema.FAIL_UNFINISHED, [error_type, reason, now, now, now, tracked.file.sha256])]
        )
        target = quarantine(
            Path(tracked.file.path),
            tracked.file,
            error_type,
            reason,
            self.store,
            self.settings,
            run=run,
        )
        self.submitter.fail(tracked.run_id, reason)
        self._placed(tracked, {"status": "failed", "location": str(target)})

    def _placed(self, tracked: Tracked, placement: dict[str, object]) -> None:
        claims.release(tracked.claim, self.settings.processing)
        discard_work(self.settings.work, tracked.file.sha256)  # what killed runs left
        self.submitter.forget(tracked)
        self.last_placed = datetime.now(UTC)
        log.debug("%s: placed %s", tracked.file.relative_path, placement)
