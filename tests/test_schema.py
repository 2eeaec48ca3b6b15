"""The schema as analysts meet it: comments everywhere, the views, keys that line up, and a
database from an older release migrated without losing a row."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb
import pytest
from analyst_snapshot import build

from store import ddl
from store.db import Store
from store.snapshot import query_snapshot

OURS = "database_name = current_database() AND schema_name = 'main'"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(
        tmp_path / "state" / "pipeline.duckdb", tmp_path / "tool_ocr.duckdb", snapshot_interval=0
    )


def snap(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return query_snapshot(store.snapshot, sql, params)[1]


def test_every_table_view_and_column_in_the_snapshot_explains_itself(
    store: Store, tmp_path: Path
) -> None:
    build(store, tmp_path)
    blank = "coalesce(trim(comment), '') = ''"
    assert snap(store, f"SELECT table_name FROM duckdb_tables() WHERE {OURS} AND {blank}") == []
    assert snap(store, f"SELECT view_name FROM duckdb_views() WHERE {OURS} AND {blank}") == []
    columns = "SELECT table_name || '.' || column_name FROM duckdb_columns() WHERE " + OURS
    assert snap(store, f"{columns} AND {blank}") == []
    assert len(snap(store, columns)) > 100  # views' columns included
    tables = {t for (t,) in snap(store, f"SELECT table_name FROM duckdb_tables() WHERE {OURS}")}
    assert tables == {
        "schema_migrations",
        "documents",
        "pages",
        "lines",
        "task_attempts",
        "files",
        "pruned_files",
    }
    views = {v for (v,) in snap(store, f"SELECT view_name FROM duckdb_views() WHERE {OURS}")}
    assert views == {
        "document_summary",
        "words",
        "low_confidence_words",
        "low_confidence_lines",
        "task_runs",
        "retries_per_task",
    }


def test_document_summary_has_the_review_the_full_text_and_the_outputs(
    store: Store, tmp_path: Path
) -> None:
    docs = build(store, tmp_path)
    rows = snap(
        store,
        "SELECT source_name, relative_path, status, page_count, word_count, weak_words, "
        "mean_word_confidence, weakest_word_confidence, needs_review, review_reasons, repaired, "
        "text, pdf_path FROM document_summary ORDER BY source_name",
    )
    by_name = {row[0]: row for row in rows}
    invoice = by_name["invoice.pdf"]
    assert invoice[1:6] == ("april/invoice.pdf", "done", 2, 7, 1)
    assert invoice[6] == pytest.approx((0.98 + 0.92 + 0.97 + 0.27 + 0.85 + 0.9 + 1.0) / 7)
    assert invoice[7:10] == (0.27, True, "1 of 7 words read with confidence below 0.8")
    assert invoice[10] is True
    assert invoice[11] == "Invoice 42\nPLEASE CO E AGAI!\fTerms of payment"
    assert invoice[12].endswith(f"invoice-{docs['invoice'].sha256[:8]}/invoice.pdf")
    assert by_name["letter.png"][8:10] == (False, "")
    assert by_name["blank.png"][4:10] == (0, 0, None, None, True, "no text found")
    assert by_name["broken.pdf"][2:10] == ("failed", 0, None, None, None, None, None, None)


def test_low_confidence_views_find_the_weak_word_in_a_sure_looking_line(
    store: Store, tmp_path: Path
) -> None:
    build(store, tmp_path)
    assert snap(
        store,
        "SELECT relative_path, page_no, line_no, word_no, text, confidence, weak_below, "
        "line_text FROM low_confidence_words",
    ) == [("april/invoice.pdf", 1, 2, 2, "CO", 0.27, 0.8, "PLEASE CO E AGAI!")]
    assert snap(
        store, "SELECT source_name, text, confidence, weak_words FROM low_confidence_lines"
    ) == [("invoice.pdf", "PLEASE CO E AGAI!", 0.27, ["CO"])]
    # a line without word boxes is one word, as the review counts it
    assert snap(store, "SELECT text, word_no, x1 FROM words WHERE page_no = 2") == [
        ("Terms of payment", 1, 190.0)
    ]
    assert snap(store, "SELECT count(*) FROM words") == [(8,)]


def test_task_runs_and_retries_per_task(store: Store, tmp_path: Path) -> None:
    docs = build(store, tmp_path)
    assert snap(
        store,
        "SELECT task_name, doc_id, attempts, retries, final_state, last_error_type, seconds "
        "FROM task_runs ORDER BY task_name",
    ) == [
        ("ocr", docs["invoice"].doc_id, 2, 1, "COMPLETED", "engine", 4.0),
        ("record", docs["invoice"].doc_id, 1, 0, "COMPLETED", None, 2.0),
    ]
    assert snap(
        store,
        "SELECT task_name, task_runs, attempts, retries, runs_retried, runs_failed "
        "FROM retries_per_task ORDER BY task_name",
    ) == [("ocr", 1, 2, 1, 1, 0), ("record", 1, 1, 0, 0, 0)]


def test_document_keys_are_text_and_line_up_across_tables(store: Store, tmp_path: Path) -> None:
    docs = build(store, tmp_path)
    invoice = docs["invoice"]
    assert invoice.doc_id == f"doc-{invoice.sha256[:16]}"
    keys = "SELECT DISTINCT doc_id FROM {} WHERE doc_id = ?"
    for table in ("documents", "pages", "lines", "files", "words", "document_summary"):
        assert snap(store, keys.format(table), invoice.doc_id) == [(invoice.doc_id,)], table
    assert snap(
        store,
        "SELECT f.relative_path, f.status, d.source_name FROM files f "
        "JOIN documents d USING (doc_id) ORDER BY f.relative_path",
    ) == [
        ("april/invoice.pdf", "processed", "invoice.pdf"),
        ("broken.pdf", "failed", "broken.pdf"),
        ("copy/invoice.pdf", "duplicate", "invoice.pdf"),
    ]
    assert snap(store, "SELECT duplicate_of FROM files WHERE status = 'duplicate'") == [
        (invoice.doc_id,)
    ]
    assert snap(store, "SELECT doc_id FROM files WHERE sha256 IS NULL") == [(None,)]
    # the hot-folder run id is one: the file's run read the document
    assert snap(
        store,
        "SELECT count(*) FROM files f JOIN documents d "
        "ON f.doc_id = d.doc_id AND f.flow_run_id = d.flow_run_id",
    ) == [(2,)]


# An existing database: written by the release before the text keys (migrations 1 to 4)


def _old_doc_id(sha256: str) -> int:
    return int(sha256[:16], 16) >> 1  # the BIGINT key of migrations 1 to 4


OLD_ROWS = """
INSERT INTO documents (sha256, doc_id, status, source_name, source_path, kind, size_bytes,
                       page_count, updated_at)
VALUES ($sha, $old, 'done', 'old.png', '/p/old.png', 'png', 10, 1, now());
INSERT INTO pages VALUES ($old, $sha, 1, 595, 842, 'ocr', 300, 1, 0.5, 'Old text', 1.0);
INSERT INTO lines VALUES ($old, 1, 1, 'Old text', 0.5, 1, 2, 3, 4,
    [{'text': 'Old', 'confidence': 0.5, 'x0': 1, 'y0': 2, 'x1': 2, 'y1': 4},
     {'text': 'text', 'confidence': 0.9, 'x0': 2, 'y0': 2, 'x1': 3, 'y1': 4}]);
INSERT INTO files (file_id, relative_path, sha256, status, duplicate_of, claimed_at, updated_at)
VALUES ('c1/old.png', 'old.png', $sha, 'processed', NULL, now(), now()),
       ('c2/again.png', 'again.png', $sha, 'duplicate', $old, now(), now()),
       ('c3/odd.lnk', 'odd.lnk', NULL, 'failed', NULL, now(), now());
"""


def test_a_database_of_the_previous_release_migrates_its_keys(store: Store, tmp_path: Path) -> None:
    sha = hashlib.sha256(b"old").hexdigest()
    store.live.parent.mkdir(parents=True)
    con = duckdb.connect(str(store.live))
    con.execute(ddl.CREATE_MIGRATIONS_TABLE)
    for migration in ddl.MIGRATIONS[:4]:
        con.execute(migration.sql)
        con.execute(ddl.RECORD, [migration.version, migration.name])
    assert _old_doc_id(sha) > 2**53  # the digits a spreadsheet would have lost
    values = {"sha": sha, "old": _old_doc_id(sha)}
    for statement in filter(str.strip, OLD_ROWS.split(";")):
        con.execute(statement, {k: v for k, v in values.items() if f"${k}" in statement})
    con.close()

    assert store.migrate() == [m.version for m in ddl.MIGRATIONS[4:]]
    store.publish_snapshot(force=True)
    key = f"doc-{sha[:16]}"
    for table in ("documents", "pages", "lines"):
        assert snap(store, f"SELECT doc_id FROM {table}") == [(key,)], table
    assert snap(store, "SELECT relative_path, doc_id, duplicate_of FROM files ORDER BY 1") == [
        ("again.png", key, key),
        ("odd.lnk", None, None),
        ("old.png", key, None),
    ]
    # what the old release could not know stays unknown, and the views still read it
    assert snap(store, "SELECT word_count, needs_review FROM documents") == [(None, None)]
    assert snap(store, "SELECT repaired FROM pages") == [(None,)]
    assert snap(store, "SELECT text, weak_below FROM low_confidence_words") == [("Old", 0.8)]
    with pytest.raises(duckdb.ConstraintException):  # keys are still required
        store.write("INSERT INTO lines VALUES (NULL, 1, 2, 'x', 1, 0, 0, 1, 1, [])", [()])
