"""Store: real DuckDB files in tmp_path, real processes for the lock, the snapshot and load."""

from __future__ import annotations

import hashlib
import multiprocessing
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.errors import DatabaseBusyError, NoSnapshotError
from core.settings import Settings
from core.values import EngineInfo, Line, Outputs, Page, Source, Word
from store import ddl
from store.db import Attempt, Store
from store.duck import translate
from store.snapshot import query_snapshot

SPAWN = multiprocessing.get_context("spawn")
ENGINE = EngineInfo("paddleocr", "3.7.0", {"det": "PP-OCRv4_det", "rec": "PP-OCRv4_rec"})
PAGES = (
    Page(
        1,
        595.0,
        842.0,
        "ocr",
        dpi=300.0,
        seconds=1.5,
        lines=(
            Line(
                "Invoice 42",
                0.95,
                (72.0, 72.0, 150.0, 86.0),
                (
                    Word("Invoice", 0.98, (72.0, 72.0, 130.0, 86.0)),
                    Word("42", 0.92, (134.0, 72.0, 150.0, 86.0)),
                ),
            ),
            Line("Total 10 EUR", 0.75, (72.0, 100.0, 180.0, 114.0)),
        ),
    ),
    Page(2, 612.0, 792.0, "text", lines=(Line("Terms", 1.0, (72.0, 72.0, 110.0, 86.0)),)),
)


def make_source(folder: Path, n: int = 1) -> Source:
    sha = hashlib.sha256(f"document {n}".encode()).hexdigest()
    return Source(folder / f"scan-{n}.pdf", f"scan-{n}.pdf", sha, "pdf", 1000 + n, 2)


def make_outputs(folder: Path, source: Source) -> Outputs:
    out = folder / "output"
    return Outputs(
        out / f"{source.stem}.pdf",
        out / f"{source.stem}.xlsx",
        out / f"{source.stem}.json",
        out / f"{source.stem}.txt",
    )


def make_attempt(source: Source, attempt: int = 1, **changes: Any) -> Attempt:
    start = datetime(2025, 1, 1, 12, 0, attempt, tzinfo=UTC)
    values: dict[str, Any] = dict(
        task_name="ocr_page",
        attempt=attempt,
        started_at=start,
        ended_at=start + timedelta(seconds=0.5),
        state="COMPLETED",
        sha256=source.sha256,
        page_no=1,
        flow_run_id="flow-1",
        task_run_id="task-1",
    )
    return Attempt(**(values | changes))


def store_done(store: Store, folder: Path, source: Source) -> None:
    store.start_document(source, flow_run_id="flow-1")
    store.finish_document(source, PAGES, make_outputs(folder, source), ENGINE, status="done")
    store.refresh_snapshot()


def new_store(tmp_path: Path, **options: Any) -> Store:
    options = {"lock_timeout": 10.0, "snapshot_interval": 0.0} | options
    return Store(tmp_path / "state" / "pipeline.duckdb", tmp_path / "tool_ocr.duckdb", **options)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = new_store(tmp_path)
    store.migrate()
    return store


def live(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the live database the way every process must: under the writers' lock."""
    with store.lock():
        con = duckdb.connect(str(store.live), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


def counts(store: Store) -> tuple[int, ...]:
    tables = ("documents", "pages", "lines", "task_attempts")
    return tuple(live(store, f"SELECT count(*) FROM {t}")[0][0] for t in tables)


# Helpers run in child processes (spawn): they must live at module level.


def hold_lock(live_path: Path, ready: Any, release: Any) -> None:
    with Store(live_path, live_path.with_name("unused.duckdb")).lock():
        ready.set()
        release.wait(30)


def hold_open(path: Path, ready: Any, release: Any, answers: Any) -> None:
    con = duckdb.connect(str(path), read_only=True)
    answers.put(con.execute("SELECT count(*) FROM documents").fetchall()[0][0])
    ready.set()
    release.wait(30)
    answers.put(con.execute("SELECT count(*) FROM documents").fetchall()[0][0])
    con.close()


def write_many(tmp_path: Path, worker: int, documents: int, results: Any) -> None:
    store = new_store(tmp_path, lock_timeout=30.0, snapshot_interval=0.2)
    errors, slowest = [], 0.0
    for n in range(documents):
        source = make_source(tmp_path, worker * 1000 + n)
        began = time.monotonic()
        try:
            store_done(store, tmp_path, source)
            store.record_attempt(make_attempt(source, task_run_id=f"w{worker}-{n}"))
        except Exception as exc:  # collected, asserted empty by the test
            errors.append(repr(exc))
        slowest = max(slowest, time.monotonic() - began)
    results.put((worker, errors, slowest))


def read_snapshot_while(snapshot: Path, stop: Any, results: Any) -> None:
    seen, errors = [], []
    while not stop.is_set():
        try:
            seen.append(query_snapshot(snapshot, "SELECT count(*) FROM documents")[1][0][0])
        except NoSnapshotError:
            pass
        except Exception as exc:  # collected, asserted empty by the test
            errors.append(repr(exc))
        time.sleep(0.01)
    results.put(("reader", errors, seen))


def start(target: Any, *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args)
    process.start()
    return process


# Migrations


def test_migrate_applies_each_migration_once(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    assert store.migrate() == [m.version for m in ddl.MIGRATIONS]
    first = live(store, "SELECT * FROM schema_migrations ORDER BY version")
    assert store.migrate() == []
    assert live(store, "SELECT * FROM schema_migrations ORDER BY version") == first
    assert [row[:2] for row in first] == [(m.version, m.name) for m in ddl.MIGRATIONS]


def test_migration_versions_run_one_to_n() -> None:
    versions = [m.version for m in ddl.MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))


def test_failed_migration_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = new_store(tmp_path)
    store.migrate()
    last = ddl.MIGRATIONS[-1].version
    bad = ddl.Migration(last + 1, "broken", "CREATE TABLE extra (x INTEGER); SELEC 1;")
    monkeypatch.setattr(ddl, "MIGRATIONS", (*ddl.MIGRATIONS, bad))
    with pytest.raises(duckdb.ParserException):
        store.migrate()
    assert live(store, "SELECT max(version) FROM schema_migrations") == [(last,)]
    assert live(store, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'extra'") == [(0,)]


# Documents, pages, lines


def test_finish_document_stores_document_pages_and_lines(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store_done(store, tmp_path, source)
    [doc] = live(
        store,
        "SELECT status, doc_id, pdf_path, engine, models->>'det', duration_s, "
        "finished_at, error_type FROM documents WHERE sha256 = ?",
        (source.sha256,),
    )
    assert doc[:5] == (
        "done",
        source.doc_id,
        str(tmp_path / "output" / "scan-1.pdf"),
        "paddleocr",
        "PP-OCRv4_det",
    )
    assert 0 <= doc[5] < 5 and doc[6].utcoffset() == timedelta(0) and doc[7] is None
    assert live(store, "SELECT page_no, method, dpi, line_count, text FROM pages ORDER BY 1") == [
        (1, "ocr", 300.0, 2, "Invoice 42\nTotal 10 EUR"),
        (2, "text", None, 1, "Terms"),
    ]
    lines = live(store, "SELECT page_no, line_no, text, x0, y1, words FROM lines ORDER BY 1, 2")
    assert [line[:5] for line in lines] == [
        (1, 1, "Invoice 42", 72.0, 86.0),
        (1, 2, "Total 10 EUR", 72.0, 114.0),
        (2, 1, "Terms", 72.0, 86.0),
    ]
    assert lines[0][5][1] == {
        "text": "42",
        "confidence": 0.92,
        "x0": 134.0,
        "y0": 72.0,
        "x1": 150.0,
        "y1": 86.0,
    }
    assert lines[1][5] == [] and lines[2][5] == []


def test_finish_document_twice_replaces_rows(store: Store, tmp_path: Path) -> None:
    source, other = make_source(tmp_path, 1), make_source(tmp_path, 2)
    store_done(store, tmp_path, other)
    store_done(store, tmp_path, source)
    once = counts(store)
    store.finish_document(source, PAGES, make_outputs(tmp_path, source), ENGINE, status="done")
    assert counts(store) == once == (2, 4, 6, 0)
    store.finish_document(source, PAGES[1:], None, None, status="done")
    assert live(store, "SELECT count(*) FROM lines WHERE doc_id = ?", (source.doc_id,)) == [(1,)]
    assert live(store, "SELECT count(*) FROM lines WHERE doc_id = ?", (other.doc_id,)) == [(3,)]


REVIEW_COLUMNS = (
    "SELECT word_count, weak_words, mean_word_confidence, weakest_word_confidence, needs_review, "
    "review_reasons, weak_below, review_share FROM documents"
)


def test_finish_document_stores_the_review_and_repaired_pages(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    repaired = (PAGES[0], replace(PAGES[1], repaired=True))
    store.start_document(source, flow_run_id="flow-1")
    checked = store.finish_document(
        source, repaired, None, ENGINE, status="done", low_confidence=0.8, review_share=0.1
    )
    # words: Invoice 0.98, 42 0.92, then two lines without word boxes (0.75, 1.0)
    assert checked is not None and checked.reasons == (
        "1 of 4 words read with confidence below 0.8",
    )
    [row] = live(store, REVIEW_COLUMNS)
    assert row[:2] == (4, 1) and row[2] == pytest.approx((0.98 + 0.92 + 0.75 + 1.0) / 4)
    assert row[3:] == (0.75, True, list(checked.reasons), 0.8, 0.1)
    assert live(store, "SELECT page_no, repaired FROM pages ORDER BY 1") == [(1, False), (2, True)]

    store.finish_document(  # a stricter share: the same words no longer need a review
        source, repaired, None, ENGINE, status="done", low_confidence=0.8, review_share=0.5
    )
    assert live(store, REVIEW_COLUMNS)[0][4:] == (False, [], 0.8, 0.5)


def test_a_failed_document_has_no_review(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store.start_document(source, flow_run_id="flow-1")
    checked = store.finish_document(
        source, [], None, None, status="failed", low_confidence=0.8, review_share=0.1
    )
    assert checked is None and live(store, REVIEW_COLUMNS) == [(None,) * 8]


def test_failed_document_keeps_error_and_status(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store.start_document(source, flow_run_id="flow-1", relative_path="a/b")
    assert store.document_status(source.sha256) == "processing"
    store.finish_document(
        source,
        PAGES,
        None,
        None,
        status="failed",
        error_type="corrupt_file",
        error_message="PDF trailer missing",
    )
    assert store.document_status(source.sha256) == "failed"
    assert live(
        store, "SELECT error_type, error_message, relative_path, pdf_path FROM documents"
    ) == [("corrupt_file", "PDF trailer missing", "a/b", None)]
    assert counts(store)[1:3] == (0, 0)


def test_done_document_is_not_overwritten_by_a_duplicate(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store_done(store, tmp_path, source)
    store.finish_document(source, (), None, None, status="duplicate")
    assert store.document_status(source.sha256) == "done"
    assert counts(store)[:3] == (1, 2, 3)


def test_failed_rerun_keeps_the_done_results(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store_done(store, tmp_path, source)
    store.start_document(source, flow_run_id="flow-2")
    assert store.document_status(source.sha256) == "done"
    store.finish_document(source, (), None, None, status="failed", error_type="injected_fault")
    assert store.document_status(source.sha256) == "done"
    assert counts(store)[:3] == (1, 2, 3)
    store.finish_document(source, PAGES[1:], None, None, status="done")
    assert counts(store)[:3] == (1, 1, 1)


def test_unknown_status_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown document status"):
        store.finish_document(make_source(tmp_path), (), None, None, status="ok")


def test_status_of_unseen_document_is_none(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    assert store.document_status("0" * 64) is None
    store.migrate()
    assert store.document_status("0" * 64) is None


def test_store_from_settings_uses_live_db_and_snapshot(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {"home": tmp_path, "db_lock_timeout": 7, "snapshot_interval": 3}
    )
    store = Store.from_settings(settings)
    assert (store.live, store.snapshot) == (settings.live_db, settings.snapshot)
    assert (store.lock_timeout, store.snapshot_interval) == (7, 3)
    assert store.lock_path == settings.state / "pipeline.duckdb.lock"


def test_programming_errors_are_not_made_transient(tmp_path: Path) -> None:
    con = duckdb.connect()  # a missing table: retrying cannot help
    with pytest.raises(duckdb.CatalogException) as raised:
        con.execute("SELECT * FROM no_such_table")
    assert translate(raised.value, tmp_path) is raised.value


# Attempts


def test_record_attempt_twice_is_one_row(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    store.record_attempt(make_attempt(source))
    store.record_attempt(make_attempt(source))
    store.record_attempt(make_attempt(source, task_run_id=None))
    store.record_attempt(make_attempt(source, task_run_id=None))
    assert len(store.attempts(source.sha256)) == 2


def test_three_attempts_of_one_task_are_three_rows(store: Store, tmp_path: Path) -> None:
    source = make_source(tmp_path)
    failed = {"state": "FAILED", "error_type": "engine", "error_message": "out of memory"}
    store.record_attempt(make_attempt(source, 1, **failed))
    store.record_attempt(make_attempt(source, 2, **failed))
    store.record_attempt(make_attempt(source, 3))
    rows = store.attempts(source.sha256)
    assert [(r["attempt"], r["state"], r["error_type"]) for r in rows] == [
        (1, "FAILED", "engine"),
        (2, "FAILED", "engine"),
        (3, "COMPLETED", None),
    ]
    assert rows[0]["duration_s"] == 0.5 and rows[0]["task_run_id"] == "task-1"
    assert rows[0]["started_at"] == datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)
    assert rows[0]["started_at"].utcoffset() == timedelta(0)


def test_attempt_refuses_naive_times(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_attempt(make_source(tmp_path), started_at=datetime(2025, 1, 1, 12, 0))


# Snapshot


def test_query_without_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NoSnapshotError, match="no snapshot"):
        query_snapshot(tmp_path / "tool_ocr.duckdb", "SELECT 1")


def test_open_snapshot_reader_does_not_block_writer(store: Store, tmp_path: Path) -> None:
    store_done(store, tmp_path, make_source(tmp_path, 1))
    ready, release, answers = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    reader = start(hold_open, store.snapshot, ready, release, answers)
    try:
        assert ready.wait(30) and answers.get(timeout=5) == 1
        old_inode = store.snapshot.stat().st_ino
        store_done(store, tmp_path, make_source(tmp_path, 2))
        assert store.publish_snapshot(force=True)
        assert store.snapshot.stat().st_ino != old_inode  # replaced, never rewritten in place
        assert query_snapshot(store.snapshot, "SELECT count(*) FROM documents") == (
            ["count_star()"],
            [(2,)],
        )
        release.set()
        assert answers.get(timeout=10) == 1  # its open handle keeps the old, consistent copy
    finally:
        release.set()
        reader.join(10)


def test_process_holding_live_file_makes_writer_busy(store: Store, tmp_path: Path) -> None:
    ready, release, answers = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    analyst = start(hold_open, store.live, ready, release, answers)
    try:
        assert ready.wait(30)
        with pytest.raises(DatabaseBusyError, match="query the snapshot"):
            store.record_attempt(make_attempt(make_source(tmp_path)))
    finally:
        release.set()
        analyst.join(10)


def test_snapshot_throttle_and_force(tmp_path: Path) -> None:
    store = new_store(tmp_path, snapshot_interval=60.0)
    store.migrate()
    store_done(store, tmp_path, make_source(tmp_path, 1))  # first snapshot: none existed
    store_done(store, tmp_path, make_source(tmp_path, 2))  # younger than 60 s: not republished
    assert query_snapshot(store.snapshot, "SELECT count(*) FROM documents")[1] == [(1,)]
    assert store.publish_snapshot() is False
    assert store.publish_snapshot(force=True) is True
    assert query_snapshot(store.snapshot, "SELECT count(*) FROM documents")[1] == [(2,)]


def test_a_settled_change_is_published_without_waiting_for_the_interval(tmp_path: Path) -> None:
    store = new_store(tmp_path, snapshot_interval=60.0)
    store.migrate()
    store_done(store, tmp_path, make_source(tmp_path, 1))  # first snapshot
    store.record_attempt(make_attempt(make_source(tmp_path, 2)))
    assert store.publish_snapshot() is False  # files in flight: the interval holds
    assert store.publish_snapshot(settled=True) is True  # the last change for now: at once
    assert store.publish_snapshot(settled=True) is False  # and only when something changed


def test_snapshot_not_republished_without_changes(store: Store, tmp_path: Path) -> None:
    store_done(store, tmp_path, make_source(tmp_path))
    assert store.snapshot.exists()
    assert store.publish_snapshot() is False
    store.record_attempt(make_attempt(make_source(tmp_path)))
    assert store.publish_snapshot() is True


# Lock


def test_lock_timeout_raises_busy_quickly(store: Store, tmp_path: Path) -> None:
    ready, release = SPAWN.Event(), SPAWN.Event()
    holder = start(hold_lock, store.live, ready, release)
    try:
        assert ready.wait(30)
        impatient = new_store(tmp_path, lock_timeout=0.3)
        began = time.monotonic()
        with pytest.raises(DatabaseBusyError, match=f"pid {holder.pid}"):
            impatient.document_status("0" * 64)
        assert 0.3 <= time.monotonic() - began < 2.0
    finally:
        release.set()
        holder.join(10)
    assert impatient.document_status("0" * 64) is None


# Load


def test_concurrent_writers_lose_nothing(store: Store, tmp_path: Path) -> None:
    workers, documents = 4, 14  # 3 write transactions per document: 42 per worker
    results, stop = SPAWN.Queue(), SPAWN.Event()
    reader = start(read_snapshot_while, store.snapshot, stop, results)
    writers = [start(write_many, tmp_path, w, documents, results) for w in range(workers)]
    reports = {}
    for _ in writers:
        worker, errors, slowest = results.get(timeout=60)
        reports[worker] = (errors, slowest)
    stop.set()
    _, reader_errors, seen = results.get(timeout=30)
    for process in [*writers, reader]:
        process.join(10)
    assert all(errors == [] for errors, _ in reports.values()), reports
    assert reader_errors == [] and seen == sorted(seen) and len(seen) > 0
    total = workers * documents
    assert counts(store) == (total, 2 * total, 3 * total, total)
    assert live(store, "SELECT DISTINCT status FROM documents") == [("done",)]
    store.publish_snapshot(force=True)
    assert query_snapshot(store.snapshot, "SELECT count(*) FROM lines")[1] == [(3 * total,)]


# Results spooled by workers on other machines


def test_a_spooling_worker_never_opens_duckdb_and_the_owner_loads_it_all(tmp_path: Path) -> None:
    from store.spool import load_spool

    worker = new_store(tmp_path, spool=tmp_path / "spool")
    source = make_source(tmp_path)
    worker.start_document(source, flow_run_id="flow-1")
    worker.record_attempt(make_attempt(source))
    worker.finish_document(
        source,
        PAGES,
        make_outputs(tmp_path, source),
        ENGINE,
        status="done",
        low_confidence=0.8,
        review_share=0.1,
    )
    assert not worker.live.exists(), "a spooling worker must not touch the live database"
    assert worker.publish_snapshot(force=True) is False
    files = sorted((tmp_path / "spool").glob("*.json"))
    assert len(files) == 3

    owner = worker.owner()
    assert load_spool(tmp_path / "spool", owner) == 3
    assert not list((tmp_path / "spool").glob("*.json"))
    (tmp_path / "spool" / files[-1].name).write_text(files[-1].name)  # garbage, set aside
    expected = live(owner, "SELECT status, finished_at IS NOT NULL FROM documents")
    assert expected == [("done", True)]
    assert live(owner, "SELECT count(*) FROM lines") == [(3,)]
    assert live(owner, "SELECT needs_review, review_reasons FROM documents") == [
        (True, ["1 of 4 words read with confidence below 0.8"])
    ]
    assert live(owner, "SELECT attempt, state FROM task_attempts") == [(1, "COMPLETED")]
    assert load_spool(tmp_path / "spool", owner) == 0
    assert list((tmp_path / "spool").glob("*.rejected"))

    owner.publish_snapshot(force=True)
    assert worker.document_status(source.sha256) == "done"  # workers read the snapshot
    assert [a["state"] for a in worker.attempts(source.sha256)] == ["COMPLETED"]


def test_loading_the_same_spool_file_twice_changes_nothing(tmp_path: Path) -> None:
    from store.spool import load_spool

    worker = new_store(tmp_path, spool=tmp_path / "spool")
    source = make_source(tmp_path)
    worker.start_document(source, flow_run_id="flow-1")
    worker.finish_document(source, PAGES, make_outputs(tmp_path, source), ENGINE, status="done")
    copies = {p.name: p.read_text() for p in (tmp_path / "spool").glob("*.json")}
    owner = worker.owner()
    load_spool(tmp_path / "spool", owner)
    before = live(owner, "SELECT * FROM lines ORDER BY page_no, line_no")
    for name, text in copies.items():  # a crash between commit and delete: loaded again
        (tmp_path / "spool" / name).write_text(text)
    load_spool(tmp_path / "spool", owner)
    assert live(owner, "SELECT * FROM lines ORDER BY page_no, line_no") == before
    assert live(owner, "SELECT count(*) FROM documents") == [(1,)]


def test_only_named_schema_statements_can_be_spooled(tmp_path: Path) -> None:
    from store.spool import spool_write

    with pytest.raises(ValueError, match="LOADABLE"):
        spool_write(tmp_path, [("DROP TABLE documents", [])])


KILLED_MID_MIGRATION = """
import os, sys, duckdb
sys.path.insert(0, sys.argv[1])
from store import ddl
con = duckdb.connect(sys.argv[2], config={"autoinstall_known_extensions": False})
con.execute("SET wal_autocheckpoint = '1GB'")
ddl.MIGRATIONS, later = ddl.MIGRATIONS[:4], ddl.MIGRATIONS[4:]
ddl.migrate(con)
con.execute("CHECKPOINT")
ddl.MIGRATIONS = ddl.MIGRATIONS + later[:1]
ddl.migrate(con)  # migration 5, left in the WAL
os.kill(os.getpid(), 9)
"""


def test_a_database_killed_with_its_log_unreplayed_opens_again_offline(tmp_path: Path) -> None:
    """A writer killed before its changes reached the database file leaves them in the WAL.
    Replaying migration 5 from there made DuckDB 2.0.1 try to download an extension it has
    built in, and with no internet the database never opened again."""
    live = tmp_path / "state" / "pipeline.duckdb"
    live.parent.mkdir()
    root = str(Path(__file__).parent.parent)
    subprocess.run([sys.executable, "-c", KILLED_MID_MIGRATION, root, str(live)], check=False)
    assert live.with_name(live.name + ".wal").stat().st_size > 0, "the change sits in the WAL"
    store = Store(live, tmp_path / "snap.duckdb")
    assert store.read("SELECT max(version) FROM schema_migrations")[0][0] >= 5
