"""The hot folder: readiness (fake clock), refusals, claims, and the watcher's loop driven round by
round with a fake submitter (no Prefect): what it claims, refuses, holds, places and gives
another run. The real service, end to end, is tests/test_service.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from core.settings import Settings
from core.values import Source
from store import claims, schema
from store.folders import work_folder
from store.snapshot import query_snapshot
from watch.follow import MAX_CRASHES
from watch.inbox import Inbox
from watch.service import Watcher
from watch.stability import Readiness
from watch.submit import ServerBusy, Submitter, Tracked


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition: Callable[[], object], timeout: float = 120, what: str = "") -> None:
    """Poll `condition` until it holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


# --- readiness: pure logic ---------------------------------------------------------------


def test_a_file_is_ready_only_after_a_quiet_period_with_unchanged_size() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=3, clock=clock)
    path = Path("scan.pdf")
    readiness.touch(path)
    readiness.observe(path, 100, 1.0)
    clock.now += 2.9
    assert readiness.ready() == []
    readiness.observe(path, 200, 2.0)  # still growing: the period starts again
    clock.now += 2.9
    assert readiness.ready() == []
    readiness.observe(path, 200, 2.0)
    clock.now += 0.2
    assert readiness.ready() == [path]


def test_the_quiet_period_runs_from_the_event_and_the_loop_wakes_when_it_ends() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=3, clock=clock)
    path = Path("scan.pdf")
    readiness.touch(path)
    assert readiness.due_in() is None  # never looked at: no deadline yet
    clock.now += 0.2
    readiness.observe(path, 100, 1.0)  # the first look does not restart the period
    assert readiness.due_in() == pytest.approx(2.8)
    clock.now += 2.8
    assert readiness.ready() == [path] and readiness.due_in() == 0


def test_a_file_its_writer_closed_waits_only_the_settle_period() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=3, settle=0.5, clock=clock)
    closed, open_, empty = Path("closed.png"), Path("open.png"), Path("empty.png")
    readiness.touch(closed, closed=True)
    readiness.touch(open_)
    readiness.touch(empty, closed=True)  # created and closed; its writer has not begun
    for path, size in ((closed, 100), (open_, 100), (empty, 0)):
        readiness.observe(path, size, 1.0)
    assert readiness.due_in() == pytest.approx(0.5)
    clock.now += 0.5
    assert readiness.ready() == [closed]
    clock.now += 2.5
    assert set(readiness.ready()) == {closed, open_, empty}


def test_writing_again_after_a_close_brings_back_the_quiet_period() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=3, settle=0.5, clock=clock)
    path = Path("scan.tif")
    readiness.touch(path, closed=True)
    readiness.observe(path, 100, 1.0)
    readiness.touch(path, closed=None)  # metadata only (cp sets the times after its close)
    clock.now += 0.5
    assert readiness.ready() == [path]
    readiness.touch(path, closed=False)  # opened again and written to
    readiness.observe(path, 200, 2.0)
    clock.now += 2.9
    assert readiness.ready() == []
    clock.now += 0.1
    assert readiness.ready() == [path]


@pytest.mark.parametrize("polling", [False, True])
def test_a_closed_copy_is_claimed_after_the_settle_period_unless_polling(
    settings: Settings, polling: bool
) -> None:
    """Real inotify events: a file written and closed, one renamed into place, one its writer
    still holds open. Polling sees no closes, so every file waits the quiet period."""
    settings = settings.model_copy(
        update={
            "watch_quiet_seconds": 3.0,
            "watch_settle_seconds": 0.5,
            "watch_polling": polling,
            "watch_poll_seconds": 0.1,
        }
    )
    watcher = Watcher(settings, submitter=FakeSubmitter(), clock=FakeClock())
    observer = watcher.start_observer()
    held = (settings.inbox / "held.png").open("wb")
    try:
        held.write(b"half a scan")
        held.flush()
        (settings.inbox / "copied.png").write_bytes(b"a scan")
        staged = settings.inbox / ".renamed.png"
        staged.write_bytes(b"another scan")
        time.sleep(0.3)  # seen under its temporary name first: the poller sees a rename
        staged.rename(settings.inbox / "renamed.png")
        names = {"held.png", "copied.png", "renamed.png"}

        def seen() -> bool:
            watcher._take_events()
            watcher._look_again()
            return {p.name for p in watcher.readiness.paths()} == names

        wait_for(seen, 10, "the three files' events")
        time.sleep(0.5)  # the copy's last events (its close) arrive
        watcher._take_events()
        watcher.clock.now += 0.5  # type: ignore[attr-defined]
        ready = {p.name for p in watcher.readiness.ready()}
        assert ready == (set() if polling else {"copied.png", "renamed.png"})
        watcher.clock.now += 2.5  # type: ignore[attr-defined]
        assert {p.name for p in watcher.readiness.ready()} == names
    finally:
        held.close()
        observer.stop()
        observer.join(5)


def test_an_outcome_left_in_a_claim_wakes_the_watchers_loop(settings: Settings) -> None:
    watcher = Watcher(settings, submitter=FakeSubmitter())
    observer = watcher.start_observer()
    try:
        claim = settings.processing / "20261129T000000-abcd"
        claim.mkdir(parents=True)
        (claim / "scan.png").write_bytes(b"scan")
        assert not watcher.wake.wait(0.5)  # the claimed file itself: no round
        claims.leave_outcome(claim, {"status": "done", "flow_run_id": "x"})
        assert watcher.wake.wait(5)
    finally:
        observer.stop()
        observer.join(5)


def test_an_event_restarts_the_quiet_period_and_ready_is_oldest_first() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=1, clock=clock)
    first, second = Path("a.png"), Path("b.png")
    for path in (first, second):
        readiness.observe(path, 10, 1.0)
        clock.now += 0.5
    readiness.touch(first)  # written to again
    clock.now += 0.9
    assert readiness.ready() == [second]
    clock.now += 0.2
    assert readiness.ready() == [second, first]
    readiness.forget(second)
    assert readiness.ready() == [first]


def test_a_touched_file_never_looked_at_is_not_ready() -> None:
    clock = FakeClock()
    readiness = Readiness(quiet=1, clock=clock)
    readiness.touch(Path("x.png"))
    clock.now += 10
    assert readiness.ready() == []


# --- the inbox on disk ----------------------------------------------------------------------


def test_temporary_and_system_files_are_ignored(settings: Settings) -> None:
    inbox = Inbox(settings.inbox, settings.processing, extra_ignore="*.scanning")
    names = [
        "scan.pdf",
        "sub/deep/page.png",
        ".hidden.png",
        "a.part",
        "b.tmp",
        "~$doc.pdf",
        "Thumbs.db",
        ".DS_Store",
        "x.scanning",
        ".git/config",
        "c.pdf.crdownload",
    ]
    for name in names:
        (settings.inbox / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.inbox / name).write_bytes(b"x")
    found = sorted(inbox.relative(p) for p in inbox.scan())
    assert found == ["scan.pdf", "sub/deep/page.png"]


def test_links_and_fifos_are_refused_and_regular_files_are_not(
    settings: Settings, tmp_path: Path
) -> None:
    inbox = Inbox(settings.inbox, settings.processing)
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    (settings.inbox / "link.png").symlink_to(outside)
    os.mkfifo(settings.inbox / "pipe.png")
    (settings.inbox / "ok.png").write_bytes(b"x")
    link = inbox.refusal(settings.inbox / "link.png")
    assert link is not None and "outside the hot folder" in link.reason
    fifo = inbox.refusal(settings.inbox / "pipe.png")
    assert fifo is not None and "not a regular file" in fifo.reason
    assert inbox.refusal(settings.inbox / "ok.png") is None


def test_two_watchers_claiming_one_file_exactly_one_wins(settings: Settings) -> None:
    (settings.inbox / "sub").mkdir()
    path = settings.inbox / "sub" / "scan.png"
    path.write_bytes(b"scan")
    first, second = (Inbox(settings.inbox, settings.processing) for _ in range(2))
    won = first.claim(path)
    assert won is not None and second.claim(path) is None
    claim, file = won
    assert file.relative_path == "sub/scan.png" and Path(file.path).read_bytes() == b"scan"
    assert not path.exists() and file.file_id == f"{claim.name}/sub/scan.png"
    assert second.claims() == {claim: file}  # what a restarted watcher finds in processing/
    assert len(list(settings.processing.iterdir())) == 1  # the loser left no empty claim


def test_a_name_that_is_not_utf8_is_refused_with_its_bytes_and_a_safe_name(
    settings: Settings,
) -> None:
    raw = os.path.join(os.fsencode(settings.inbox), b"r\xe9sum\xe9.png")
    with open(raw, "wb") as out:
        out.write(b"scan")
    inbox = Inbox(settings.inbox, settings.processing)
    [path] = list(inbox.scan())
    refusal = inbox.refusal(path)
    assert refusal is not None and refusal.relative_path == "r%E9sum%E9.png"
    assert "72 e9 73 75 6d e9" in refusal.reason and "not valid UTF-8" in refusal.reason


# --- the watcher's loop, round by round (a fake submitter, no Prefect) --------------------------


class FakeSubmitter(Submitter):
    """Gives each claimed file a made-up run; its first `failures` rounds fail like a server
    away. Runs end only through the claim folder's marks, or when a test says so."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures, self.rounds, self.created = failures, 0, 0
        self.states: list[tuple[Tracked, str]] = []  # (tracked, how) reported next round
        self.failed: list[str] = []

    def submit(self) -> list[tuple[Tracked, Exception]]:
        self.rounds += 1
        if self.rounds <= self.failures:
            raise ServerBusy("Prefect server unreachable")
        return super().submit()

    def deployment_id(self) -> uuid.UUID:
        return uuid.UUID(int=1)

    def _post_run(self, tracked: Tracked, submission: int) -> Any:
        self.created += 1
        return SimpleNamespace(id=uuid.uuid4(), name=tracked.run_name())

    def by_states(self) -> list[Any]:
        from watch.submit import Ended

        ended, self.states = [Ended(t, h, {}) for t, h in self.states], []  # type: ignore[arg-type]
        return ended

    def sweep(self, processing: Path, grace: float) -> int:
        return 0

    def fail(self, run_id: Any, reason: str) -> None:
        self.failed.append(reason)

    def close(self) -> None:
        pass


def loop_watcher(settings: Settings, submitter: Submitter) -> Watcher:
    settings = settings.model_copy(update={"watch_rescan_seconds": 1.0})  # each round rescans
    watcher = Watcher(settings, submitter=submitter, clock=FakeClock())
    watcher.readiness.quiet = 0  # readiness itself is tested above
    return watcher


def rounds(watcher: Watcher, n: int = 1) -> None:
    for _ in range(n):
        watcher.tick()
        watcher.clock.now += 5  # type: ignore[attr-defined]


def files_rows(watcher: Watcher) -> dict[str, tuple[Any, ...]]:
    """relative path -> (status, error_type, location, error_message), from the live database
    (through the watcher, which holds it while files are in flight)."""
    rows = watcher.store.read(
        "SELECT relative_path, status, error_type, location, error_message FROM files"
    )
    return {row[0]: row[1:] for row in rows}


def done(watcher: Watcher, tracked: Tracked) -> None:
    """What a run that read the file leaves: its document stored, its outcome in the claim."""
    file = tracked.file
    source = Source(Path(file.path), Path(file.path).name, file.sha256, "png", file.size, 1)
    store = watcher.store
    store.start_document(source, flow_run_id=str(tracked.run_id))
    store.finish_document(source, [], None, None, status="done")
    claims.leave_outcome(tracked.claim, {"status": "done", "flow_run_id": str(tracked.run_id)})


def test_a_burst_waits_in_the_folder_a_few_files_per_worker_in_flight(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_WORKERS", "1")
    settings = Settings()
    for n in range(20):
        (settings.inbox / f"scan-{n:02}.png").write_bytes(b"scan %d" % n)
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher, 3)
    assert len(submitter) == watcher.max_pending == 4 and submitter.created == 4
    assert len(list(settings.inbox.iterdir())) == 16  # the rest wait on disk, unclaimed
    done(watcher, next(iter(submitter.tracked.values())))
    rounds(watcher, 2)  # placed in one round, the next file claimed in the next
    assert len(submitter) == 4 and submitter.created == 5
    assert sum(1 for _ in settings.processed.rglob("*.png")) == 1


def test_a_bursts_first_file_is_published_at_once_the_next_after_the_interval(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"snapshot_interval": 600.0})
    for n in range(3):
        (settings.inbox / f"scan-{n}.png").write_bytes(b"scan %d" % n)
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher)  # the claims change the database: published, starting the interval
    first, second, _ = submitter.tracked.values()

    def status(tracked: Tracked) -> str:
        query = "SELECT status FROM files WHERE relative_path = ?"
        return query_snapshot(settings.snapshot, query, [tracked.file.relative_path])[1][0][0]

    done(watcher, first)
    rounds(watcher)
    assert status(first) == "processed"  # not kept for the interval its burst started
    done(watcher, second)
    rounds(watcher)
    assert status(second) == "processing"  # the rest of the burst: once per interval


def test_the_server_being_away_never_stops_the_watcher(settings: Settings) -> None:
    (settings.inbox / "scan.png").write_bytes(b"scan")
    submitter = FakeSubmitter(failures=3)
    watcher = loop_watcher(settings, submitter)
    rounds(watcher, 6)
    [tracked] = submitter.tracked.values()
    assert tracked.run_id is not None and submitter.rounds > 3
    assert tracked.file.relative_path == "scan.png"
    beat = json.loads((settings.state / "watcher.json").read_text())
    assert [f["file"] for f in beat["in_flight"]] == ["scan.png"]


def test_one_bad_name_never_stops_the_good_files(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "target.png").write_bytes(b"elsewhere")
    (settings.inbox / "link.png").symlink_to(tmp_path / "target.png")
    with open(os.path.join(os.fsencode(settings.inbox), b"r\xe9sum\xe9.png"), "wb") as out:
        out.write(b"latin-1 name")
    (settings.inbox / "good.png").write_bytes(b"good")
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher, 2)
    assert [t.file.relative_path for t in submitter.tracked.values()] == ["good.png"]
    assert (settings.failed / "link.png").is_symlink()
    report = json.loads((settings.failed / "link.png.error.json").read_text())
    assert report["error_type"] == "unsupported_file" and "symbolic link" in report["reason"]
    assert (settings.failed / "r%E9sum%E9.png").read_bytes() == b"latin-1 name"
    rows = files_rows(watcher)
    assert rows["r%E9sum%E9.png"][:2] == ("failed", "unsupported_file")
    assert "72 e9 73 75 6d e9" in rows["r%E9sum%E9.png"][3]


def test_content_done_or_in_flight_never_gets_a_second_run(settings: Settings) -> None:
    (settings.inbox / "first.png").write_bytes(b"same content")
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher)
    (settings.inbox / "twin.png").write_bytes(b"same content")  # arrives while first is read
    rounds(watcher)
    assert submitter.created == 1 and len(watcher.held) == 1
    done(watcher, next(iter(submitter.tracked.values())))
    rounds(watcher)
    (settings.inbox / "later.png").write_bytes(b"same content")  # arrives after it was done
    rounds(watcher, 2)
    rows = files_rows(watcher)
    assert rows["first.png"][0] == "processed" and submitter.created == 1
    assert rows["twin.png"][0] == "duplicate" and rows["later.png"][0] == "duplicate"
    assert not watcher.held and not any(settings.processing.iterdir())


def test_a_crash_is_pinned_on_its_file_which_fails_after_three(settings: Settings) -> None:
    (settings.inbox / "crasher.png").write_bytes(b"kills its worker")
    (settings.inbox / "innocent.png").write_bytes(b"fine")
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher)
    crasher, innocent = sorted(submitter.tracked.values(), key=lambda t: t.file.relative_path)
    watcher.store.start_document(
        Source(Path(crasher.file.path), "crasher.png", crasher.file.sha256, "png", 16, 1),
        flow_run_id="run",
    )
    left = [work_folder(settings.work, crasher.file.sha256, f"run{n}") for n in range(3)]
    for n in range(1, MAX_CRASHES + 1):
        (left[n - 1] / "page-0001.png").parent.mkdir(parents=True)  # what the killed run left
        (left[n - 1] / "page-0001.png").write_bytes(b"raster")
        submitter.states.append((crasher, "crashed"))
        rounds(watcher, 2)  # ended in one round, given another run in the next
        if n < MAX_CRASHES:
            assert crasher.run_id is not None and submitter.created == n + 2
    done(watcher, innocent)
    rounds(watcher)
    rows = files_rows(watcher)
    assert (
        rows["crasher.png"][:2] == ("failed", "run_crashed") and "3 times" in rows["crasher.png"][3]
    )
    assert rows["innocent.png"][0] == "processed" and submitter.created == 4
    status = watcher.store.read(schema.DOCUMENT_STATUS, [crasher.file.sha256])
    assert status == [("failed",)] and submitter.failed
    assert not any(folder.exists() for folder in left)  # the killed runs' rasters are gone


def test_a_run_out_of_time_is_quarantined_as_timeout(settings: Settings) -> None:
    (settings.inbox / "hangs.png").write_bytes(b"a page that hangs")
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    rounds(watcher)
    [tracked] = submitter.tracked.values()
    claims.mark_timeout(tracked.claim, str(tracked.run_id), 601.0)
    rounds(watcher)
    rows = files_rows(watcher)
    assert (
        rows["hangs.png"][:2] == ("failed", "timeout")
        and "TOOL_OCR_FILE_TIMEOUT" in rows["hangs.png"][3]
    )
    assert not any(settings.processing.iterdir())


def test_runs_found_dead_at_start_or_cancelled_are_not_the_files_fault(settings: Settings) -> None:
    (settings.inbox / "left.png").write_bytes(b"claimed by a watcher that died")
    inbox = Inbox(settings.inbox, settings.processing)
    won = inbox.claim(settings.inbox / "left.png")
    assert won is not None
    claims.count_submission(won[0])  # its first run was created, then the service died
    submitter = FakeSubmitter()
    watcher = loop_watcher(settings, submitter)
    watcher.recover(at_start=True)
    rounds(watcher)
    [tracked] = submitter.tracked.values()
    for how in ("crashed", "cancelled"):
        submitter.states.append((tracked, how))
        rounds(watcher, 2)
    assert claims.crash_count(tracked.claim) == 0 and claims.submissions(tracked.claim) == 3
    done(watcher, tracked)
    rounds(watcher)
    assert files_rows(watcher)["left.png"][0] == "processed"
