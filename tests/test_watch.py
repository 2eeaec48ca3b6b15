"""The hot folder: readiness (fake clock), claims, and the real watcher against a served Prefect.

The service tests run the real thing: a `tool-ocr serve` runner on the test Prefect server, the
watcher on real watchdog events, the real OCR engine in the runs, files written by the tests.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import text_page
from core.settings import Settings
from store.snapshot import query_snapshot
from watch.inbox import Inbox
from watch.service import Watcher
from watch.stability import Readiness
from watch.submit import Batch, Submitter


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
    _, won = first.claim([path])
    _, lost = second.claim([path])
    assert [f.relative_path for f in won] == ["sub/scan.png"] and lost == []
    assert Path(won[0].path).read_bytes() == b"scan" and not path.exists()
    claims = second.claims()  # what a restarted watcher finds in processing/
    assert [f.file_id for files in claims.values() for f in files] == [won[0].file_id]
    assert len(list(settings.processing.iterdir())) == 1  # the loser left no empty claim


# --- the watcher's loop, driven tick by tick (a recording submitter, no Prefect) -------------


class RecordingSubmitter(Submitter):
    """Keeps batches 'in flight' forever; its first `failures` polls fail like a server away."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.failures, self.polls = failures, 0

    def poll(self, processing: Path) -> list[Batch]:
        self.polls += 1
        if self.polls <= self.failures:
            raise ConnectionError("Prefect server unreachable")
        for batch in self.batches.values():
            batch.run_id = batch.run_id or uuid.uuid4()
        return []


def loop_watcher(settings: Settings, submitter: Submitter) -> Watcher:
    clock = FakeClock()
    watcher = Watcher(settings, submitter=submitter, clock=clock)
    watcher.readiness.quiet = 0  # readiness itself is tested above
    return watcher


def test_a_burst_waits_in_the_folder_in_bounded_adaptive_batches(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_RUN_LIMIT", "1")  # one run at once, one more waiting
    monkeypatch.setenv("TOOL_OCR_BATCH_MAX_FILES", "8")
    settings = Settings()
    for n in range(20):
        (settings.inbox / f"scan-{n:02}.png").write_bytes(b"scan %d" % n)
    submitter = RecordingSubmitter()
    watcher = loop_watcher(settings, submitter)
    for _ in range(3):
        watcher.tick()
    assert [len(b.files) for b in submitter.batches.values()] == [8, 8]
    assert len(list(settings.inbox.iterdir())) == 4  # the rest wait on disk, unclaimed
    del submitter.batches[next(iter(submitter.batches))]  # one run ended
    watcher.tick()
    assert [len(b.files) for b in submitter.batches.values()] == [8, 4]


def test_the_server_being_away_never_stops_the_watcher(settings: Settings) -> None:
    (settings.inbox / "scan.png").write_bytes(b"scan")
    submitter = RecordingSubmitter(failures=3)
    watcher = loop_watcher(settings, submitter)
    for _ in range(6):
        watcher.tick()
        watcher.clock.now += 5  # type: ignore[attr-defined]
    [batch] = submitter.batches.values()
    assert batch.run_id is not None and submitter.polls > 3
    assert [f.relative_path for f in batch.files] == ["scan.png"]
    assert json.loads((settings.state / "watcher.json").read_text())["batches_in_flight"] == 1


def test_a_link_is_quarantined_by_the_watcher_and_a_lone_file_goes_alone(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "target.png").write_bytes(b"elsewhere")
    (settings.inbox / "link.png").symlink_to(tmp_path / "target.png")
    (settings.inbox / "alone.png").write_bytes(b"alone")
    submitter = RecordingSubmitter()
    watcher = loop_watcher(settings, submitter)
    watcher.tick()
    assert (settings.failed / "link.png").is_symlink()
    report = json.loads((settings.failed / "link.png.error.json").read_text())
    assert report["error_type"] == "unsupported_file" and "symbolic link" in report["reason"]
    assert [[f.relative_path for f in b.files] for b in submitter.batches.values()] == [
        ["alone.png"]
    ]


# --- the real service -------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(prefect_server: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """`tool-ocr serve` on the test server, TOOL_OCR_HOME in a fresh folder; yields settings."""
    from prefect.settings import PREFECT_API_URL

    home = tmp_path_factory.mktemp("service")
    env_vars = {
        "TOOL_OCR_HOME": str(home),
        "TOOL_OCR_SNAPSHOT_INTERVAL": "0",
        "TOOL_OCR_WATCH_QUIET_SECONDS": "1.5",
        "TOOL_OCR_WATCH_RESCAN_SECONDS": "2",
        "TOOL_OCR_RUN_LIMIT": "1",
    }
    saved = {key: os.environ.get(key) for key in env_vars}
    os.environ.update(env_vars)
    settings = Settings()
    settings.ensure_folders()
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    log = (home / "serve.log").open("wb")
    runner = subprocess.Popen(
        [sys.executable, "-m", "tool_ocr.cli", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: _deployments() >= {"ocr-inbox", "prune-expired"},
            120,
            "the runner to register its deployments",
        )
        yield settings
    finally:
        runner.terminate()
        runner.wait(60)
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def _deployments() -> set[str]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {d.name for d in client.read_deployments()}


@contextmanager
def watching(settings: Settings) -> Iterator[Watcher]:
    watcher = Watcher(settings)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        yield watcher
    finally:
        watcher.stop()
        thread.join(30)


def ended_runs(name_like: str) -> list[Any]:
    """Flow runs whose name contains `name_like`, once all of them have ended (a run places
    its files and publishes them a moment before Prefect marks it finished)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    def read() -> list[Any]:
        with get_client(sync_client=True) as client:
            return client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_=name_like))
            )

    wait_for(
        lambda: all(r.state is not None and r.state.is_final() for r in read()),
        60,
        f"runs named like {name_like!r} to end",
    )
    return read()


def png(*lines: str) -> bytes:
    buffer = io.BytesIO()
    text_page(list(lines), size=40).save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


def files_rows(settings: Settings) -> dict[str, tuple[str, str | None, str | None]]:
    """relative path -> (status, error_type, location) from the analysts' snapshot."""
    if not settings.snapshot.exists():
        return {}
    _, rows = query_snapshot(
        settings.snapshot,
        "SELECT relative_path, status, error_type, location FROM files ORDER BY claimed_at",
    )
    return {row[0]: row[1:] for row in rows}


def test_slow_writes_corrupt_files_and_duplicates_end_in_the_right_place(service: Settings) -> None:
    settings = service
    good = png("Quarterly report 2026", "Revenue grew by 12 percent")
    with watching(settings):
        slow = settings.inbox / "slow" / "report.png"
        slow.parent.mkdir()
        with slow.open("wb") as out:  # a scanner writing over ~4 s, well past the quiet period
            for start in range(0, len(good), len(good) // 8 + 1):
                out.write(good[start : start + len(good) // 8 + 1])
                out.flush()
                time.sleep(0.5)
                assert not any(settings.processing.rglob("report.png")), "claimed while written"
        (settings.inbox / "bad").mkdir()
        (settings.inbox / "bad" / "broken.pdf").write_bytes(b"%PDF-1.7\nnot a pdf at all")
        (settings.inbox / "after.png").write_bytes(png("Delivery note 5521", "Paid in full"))
        wait_for(
            lambda: (
                {"slow/report.png", "bad/broken.pdf", "after.png"} <= set(files_rows(settings))
                and not any(settings.processing.rglob("*.*"))
            ),
            180,
            "three files placed",
        )
        (settings.inbox / "copy-of-report.png").write_bytes(good)
        wait_for(lambda: "copy-of-report.png" in files_rows(settings), 120, "the duplicate")
    rows = files_rows(settings)
    assert rows["slow/report.png"][0] == "processed"
    assert Path(rows["slow/report.png"][2]).parent.parent.parent.parent.parent == (
        settings.processed
    ), "processed/YYYY/MM/DD/slow/report.png"
    assert Path(rows["slow/report.png"][2]).read_bytes() == good
    assert rows["after.png"][0] == "processed"
    status, error_type, location = rows["bad/broken.pdf"]
    assert (status, error_type) == ("failed", "corrupt_file")
    report = json.loads(Path(location + ".error.json").read_text())
    assert report["error_type"] == "corrupt_file" and report["reason"]
    assert report["attempts"] and report["flow_run_id"]
    assert rows["copy-of-report.png"][0] == "duplicate"
    assert Path(rows["copy-of-report.png"][2]).is_relative_to(settings.duplicates)
    _, dup = query_snapshot(
        settings.snapshot,
        "SELECT f.duplicate_of = d.doc_id FROM files f "
        "JOIN documents d USING (sha256) WHERE f.status = 'duplicate'",
    )
    assert dup == [(True,)]
    _, text = query_snapshot(
        settings.snapshot,
        "SELECT text FROM pages p JOIN documents d "
        "USING (doc_id) WHERE d.relative_path = 'slow/report.png'",
    )
    assert "revenue" in text[0][0].lower()
    assert not list(settings.inbox.rglob("*.*"))
    assert not list(settings.processing.iterdir()), "claim folders are cleaned up"
    runs = ended_runs("inbox")  # the run holding the bad file failed, red
    states = {r.state.type.value for r in runs if r.state is not None}
    assert "FAILED" in states and "CRASHED" not in states, states


def test_a_restart_processes_what_arrived_meanwhile_and_duplicates_nothing(
    service: Settings,
) -> None:
    settings = service
    inbox = Inbox(settings.inbox, settings.processing)
    (settings.inbox / "left-claimed.png").write_bytes(png("Claimed before the crash 771"))
    inbox.claim([settings.inbox / "left-claimed.png"])  # a watcher that died after claiming
    for n in range(3):  # arrived while no watcher ran
        (settings.inbox / f"meanwhile-{n}.png").write_bytes(png(f"Arrived meanwhile {n} 90{n}"))
    with watching(settings):
        wait_for(
            lambda: (
                {"left-claimed.png", "meanwhile-0.png", "meanwhile-1.png", "meanwhile-2.png"}
                <= set(files_rows(settings))
            ),
            180,
            "four files",
        )
        wait_for(lambda: not any(settings.processing.rglob("*.*")), 60, "processing/ empty")
    rows = files_rows(settings)
    assert all(rows[f"meanwhile-{n}.png"][0] == "processed" for n in range(3))
    assert rows["left-claimed.png"][0] == "processed"
    _, counts = query_snapshot(
        settings.snapshot,
        "SELECT relative_path, count(*) FROM files GROUP BY 1 HAVING count(*) > 1",
    )
    assert counts == []
    runs = ended_runs("left-claimed")  # one run per claim, never two for one file
    assert [r.state.type.value for r in runs if r.name.startswith("inbox")] == ["COMPLETED"]


def test_prune_expired_is_scheduled_hourly(service: Settings) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("prune-expired/prune-expired")
    assert not deployment.paused
    assert [getattr(s.schedule, "cron", None) for s in deployment.schedules] == ["0 * * * *"]
