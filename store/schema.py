"""The one place for DuckDB DDL (ordered migrations, each applied once in its own transaction)
and for the statements that name its columns.

No foreign keys (DuckDB refuses updates of referenced rows) and no primary key on `pages` or
`lines`: a document's pages and lines are replaced by delete + insert in one transaction, keyed
by `doc_id` (Source.doc_id). Boxes are PDF points, top-left origin.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import duckdb

log = logging.getLogger(__name__)


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


DOCUMENTS = """
CREATE TABLE documents (
    sha256         VARCHAR PRIMARY KEY,
    doc_id         BIGINT NOT NULL,
    status         VARCHAR NOT NULL
                   CHECK (status IN ('processing', 'done', 'failed', 'duplicate', 'skipped')),
    source_name    VARCHAR NOT NULL,
    source_path    VARCHAR NOT NULL,
    relative_path  VARCHAR,
    kind           VARCHAR NOT NULL,
    size_bytes     BIGINT NOT NULL,
    page_count     INTEGER NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    duration_s     DOUBLE,
    pdf_path       VARCHAR,
    xlsx_path      VARCHAR,
    json_path      VARCHAR,
    txt_path       VARCHAR,
    error_type     VARCHAR,
    error_message  VARCHAR,
    engine         VARCHAR,
    engine_version VARCHAR,
    models         JSON,
    flow_run_id    VARCHAR,
    updated_at     TIMESTAMPTZ NOT NULL
);
"""

PAGES_AND_LINES = """
CREATE TABLE pages (
    doc_id          BIGINT NOT NULL,
    sha256          VARCHAR NOT NULL,
    page_no         INTEGER NOT NULL,
    width_pt        DOUBLE NOT NULL,
    height_pt       DOUBLE NOT NULL,
    method          VARCHAR NOT NULL CHECK (method IN ('ocr', 'text')),
    dpi             DOUBLE,
    line_count      INTEGER NOT NULL,
    mean_confidence DOUBLE,
    text            VARCHAR NOT NULL,
    seconds         DOUBLE NOT NULL
);
CREATE TABLE lines (
    doc_id     BIGINT NOT NULL,
    page_no    INTEGER NOT NULL,
    line_no    INTEGER NOT NULL,
    text       VARCHAR NOT NULL,
    confidence DOUBLE NOT NULL,
    x0 DOUBLE NOT NULL, y0 DOUBLE NOT NULL, x1 DOUBLE NOT NULL, y1 DOUBLE NOT NULL,
    words      STRUCT(text VARCHAR, confidence DOUBLE,
                      x0 DOUBLE, y0 DOUBLE, x1 DOUBLE, y1 DOUBLE)[] NOT NULL
);
"""

TASK_ATTEMPTS = """
CREATE TABLE task_attempts (
    attempt_key   VARCHAR PRIMARY KEY,
    flow_run_id   VARCHAR,
    task_run_id   VARCHAR,
    task_name     VARCHAR NOT NULL,
    sha256        VARCHAR,
    page_no       INTEGER,
    attempt       INTEGER NOT NULL CHECK (attempt >= 1),
    started_at    TIMESTAMPTZ NOT NULL,
    ended_at      TIMESTAMPTZ NOT NULL,
    duration_s    DOUBLE NOT NULL,
    state         VARCHAR NOT NULL CHECK (state IN ('COMPLETED', 'FAILED')),
    error_type    VARCHAR,
    error_message VARCHAR
);
"""

# One row per file that entered the hot folder (an arrival; documents are per content).
FILES = """
CREATE TABLE files (
    file_id       VARCHAR PRIMARY KEY,  -- '<claim id>/<relative path>', unique per arrival
    relative_path VARCHAR NOT NULL,     -- where it was dropped, relative to the inbox
    sha256        VARCHAR,              -- NULL when refused before it could be read
    size_bytes    BIGINT,
    status        VARCHAR NOT NULL
                  CHECK (status IN ('processing', 'processed', 'failed', 'duplicate')),
    location      VARCHAR,              -- where the original is now (NULL once pruned)
    duplicate_of  BIGINT,               -- documents.doc_id of the content it repeats
    error_type    VARCHAR,
    error_message VARCHAR,
    flow_run_id   VARCHAR,
    claimed_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    pruned_at     TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE TABLE pruned_files (
    path        VARCHAR NOT NULL,
    folder      VARCHAR NOT NULL CHECK (folder IN ('processed', 'output', 'duplicates', 'failed')),
    sha256      VARCHAR,
    size_bytes  BIGINT NOT NULL,
    modified_at TIMESTAMPTZ NOT NULL,
    pruned_at   TIMESTAMPTZ NOT NULL,
    flow_run_id VARCHAR,
    PRIMARY KEY (path, pruned_at)
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "documents", DOCUMENTS),
    Migration(2, "pages and lines", PAGES_AND_LINES),
    Migration(3, "task attempts", TASK_ATTEMPTS),
    Migration(4, "hot-folder files and pruning", FILES),
)

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
APPLIED = "SELECT version FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)"

# Statements, next to the tables they name; `?` parameters only.

START_DOCUMENT = """
INSERT INTO documents (sha256, doc_id, status, source_name, source_path, relative_path, kind,
                       size_bytes, page_count, started_at, flow_run_id, updated_at)
VALUES (?, ?, 'processing', ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sha256) DO UPDATE SET
    status = 'processing', source_name = excluded.source_name,
    source_path = excluded.source_path, relative_path = excluded.relative_path,
    kind = excluded.kind, size_bytes = excluded.size_bytes, page_count = excluded.page_count,
    started_at = excluded.started_at, finished_at = NULL, duration_s = NULL,
    error_type = NULL, error_message = NULL, flow_run_id = excluded.flow_run_id,
    updated_at = excluded.updated_at
WHERE documents.status <> 'done'
"""
# A done document being processed again keeps its results until a new 'done' replaces them;
# only its start time moves, so the new run's duration is measured from its own start.
RESTART_DONE_DOCUMENT = """
UPDATE documents SET started_at = ?, updated_at = ? WHERE sha256 = ? AND status = 'done'
"""
FINISH_DOCUMENT = """
INSERT INTO documents (sha256, doc_id, status, source_name, source_path, kind, size_bytes,
                       page_count, finished_at, pdf_path, xlsx_path, json_path, txt_path,
                       error_type, error_message, engine, engine_version, models, flow_run_id,
                       updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sha256) DO UPDATE SET
    status = excluded.status, finished_at = excluded.finished_at,
    duration_s = epoch(excluded.finished_at) - epoch(documents.started_at),
    pdf_path = coalesce(excluded.pdf_path, documents.pdf_path),
    xlsx_path = coalesce(excluded.xlsx_path, documents.xlsx_path),
    json_path = coalesce(excluded.json_path, documents.json_path),
    txt_path = coalesce(excluded.txt_path, documents.txt_path),
    error_type = excluded.error_type, error_message = excluded.error_message,
    engine = coalesce(excluded.engine, documents.engine),
    engine_version = coalesce(excluded.engine_version, documents.engine_version),
    models = coalesce(excluded.models, documents.models),
    flow_run_id = coalesce(excluded.flow_run_id, documents.flow_run_id),
    updated_at = excluded.updated_at
WHERE documents.status <> 'done' OR excluded.status = 'done'
"""
DOCUMENT_STATUS = "SELECT status FROM documents WHERE sha256 = ?"
DELETE_PAGES = "DELETE FROM pages WHERE doc_id = ?"
DELETE_LINES = "DELETE FROM lines WHERE doc_id = ?"
INSERT_PAGES = """
INSERT INTO pages (doc_id, sha256, page_no, width_pt, height_pt, method, dpi, line_count,
                   mean_confidence, text, seconds)
SELECT ?, ?, unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]),
       unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::INTEGER[]), unnest(?::DOUBLE[]),
       unnest(?::VARCHAR[]), unnest(?::DOUBLE[])
"""
INSERT_LINES = """
INSERT INTO lines (doc_id, page_no, line_no, text, confidence, x0, y0, x1, y1, words)
SELECT ?, unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::VARCHAR[]),
       unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]),
       unnest(?::DOUBLE[]), unnest(?::STRUCT(text VARCHAR, confidence DOUBLE, x0 DOUBLE,
                                             y0 DOUBLE, x1 DOUBLE, y1 DOUBLE)[][])
"""
RECORD_ATTEMPT = """
INSERT INTO task_attempts (attempt_key, flow_run_id, task_run_id, task_name, sha256, page_no,
                           attempt, started_at, ended_at, duration_s, state, error_type,
                           error_message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (attempt_key) DO UPDATE SET
    ended_at = excluded.ended_at, duration_s = excluded.duration_s, state = excluded.state,
    error_type = excluded.error_type, error_message = excluded.error_message
"""
ATTEMPTS = """
SELECT * FROM task_attempts WHERE sha256 = ?
ORDER BY started_at, task_name, page_no NULLS FIRST, attempt
"""

CLAIM_FILE = """
INSERT INTO files (file_id, relative_path, sha256, size_bytes, status, location, flow_run_id,
                   claimed_at, updated_at)
VALUES (?, ?, ?, ?, 'processing', ?, ?, ?, ?)
ON CONFLICT (file_id) DO UPDATE SET
    sha256 = excluded.sha256, size_bytes = excluded.size_bytes, location = excluded.location,
    flow_run_id = excluded.flow_run_id, updated_at = excluded.updated_at
WHERE files.status = 'processing'
"""
PLACE_FILE = """
INSERT INTO files (file_id, relative_path, sha256, size_bytes, status, location, duplicate_of,
                   error_type, error_message, flow_run_id, claimed_at, finished_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (file_id) DO UPDATE SET
    sha256 = coalesce(excluded.sha256, files.sha256),
    size_bytes = coalesce(excluded.size_bytes, files.size_bytes),
    status = excluded.status, location = excluded.location,
    duplicate_of = excluded.duplicate_of, error_type = excluded.error_type,
    error_message = excluded.error_message,
    flow_run_id = coalesce(excluded.flow_run_id, files.flow_run_id),
    finished_at = excluded.finished_at, updated_at = excluded.updated_at
"""
FILE_PLACEMENT = "SELECT status, location FROM files WHERE file_id = ?"
FILE_COUNTS = "SELECT status, count(*) FROM files GROUP BY status"
LAST_SUCCESS = """
SELECT relative_path, strftime(finished_at, '%Y-%m-%d %H:%M:%S UTC') FROM files
WHERE status = 'processed' ORDER BY finished_at DESC LIMIT 1
"""
RECENT_FAILURES = """
SELECT relative_path, error_type, error_message,
       strftime(finished_at, '%Y-%m-%d %H:%M:%S UTC') FROM files
WHERE status = 'failed' ORDER BY finished_at DESC LIMIT ?
"""
DOCUMENT_DOC_ID = "SELECT doc_id, status FROM documents WHERE sha256 = ?"
ORIGINAL_OF = "SELECT doc_id, source_name, source_path FROM documents WHERE sha256 = ?"
# The original moved from processing/ to processed/: the document row follows it.
MOVED_DOCUMENT = "UPDATE documents SET source_path = ? WHERE sha256 = ? AND source_path = ?"
# Pruning: what must not be touched, what was removed.
UNFINISHED_DOCUMENTS = "SELECT sha256 FROM documents WHERE status = 'processing'"
# The watcher: which contents are done already (a claimed file with one is a duplicate).
DOCUMENT_STATUSES = """
SELECT sha256, status FROM documents WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))
"""
# A document whose run was stopped (time limit, crashes) or whose service died: failed, unless
# another run finished it meanwhile.
FAIL_UNFINISHED = """
UPDATE documents SET status = 'failed', error_type = ?, error_message = ?, finished_at = ?,
    duration_s = epoch(?::TIMESTAMPTZ) - epoch(started_at), updated_at = ?
WHERE sha256 = ? AND status = 'processing'
"""
UNFINISHED_FILES = "SELECT location FROM files WHERE status = 'processing'"
RECORD_PRUNED = """
INSERT INTO pruned_files (path, folder, sha256, size_bytes, modified_at, pruned_at, flow_run_id)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING
"""
MARK_FILE_PRUNED = """
UPDATE files SET location = NULL, pruned_at = ?, updated_at = ? WHERE location = ?
"""
FORGET_DOCUMENT_PAGES = "DELETE FROM pages WHERE sha256 = ?"
FORGET_DOCUMENT_LINES = "DELETE FROM lines WHERE doc_id = ?"


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the missing migrations in order; return the versions applied now."""
    con.execute(CREATE_MIGRATIONS_TABLE)
    done = {row[0] for row in con.execute(APPLIED).fetchall()}
    applied = []
    for migration in MIGRATIONS:
        if migration.version not in done:
            _apply(con, migration)
            applied.append(migration.version)
    return applied


def _apply(con: duckdb.DuckDBPyConnection, migration: Migration) -> None:
    con.begin()
    try:
        con.execute(migration.sql)
        con.execute(RECORD, [migration.version, migration.name])
        con.commit()
    except BaseException:
        con.rollback()
        raise
    log.info("applied migration %s (%s)", migration.version, migration.name)


# Pruning (tasks/prune.py): what is known about the files it is about to remove.
KNOWN_LOCATIONS = """
SELECT location, sha256 FROM files WHERE location IN (SELECT unnest(?::VARCHAR[]))
"""
DOCUMENTS_BY_PREFIX = """
SELECT sha256 FROM documents WHERE left(sha256, 8) IN (SELECT unnest(?::VARCHAR[]))
"""
