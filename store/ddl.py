"""DuckDB DDL as ordered migrations, each applied once in its own transaction and recorded in
`schema_migrations`. Append a migration to change the schema; never edit one that has shipped
(databases out there have applied it).

No foreign keys (DuckDB refuses updates of referenced rows) and no primary key on `pages` or
`lines`: a document's pages and lines are replaced by delete + insert in one transaction, keyed
by `doc_id` (Source.doc_id). Boxes are PDF points, top-left origin. Every table, view and column
carries a COMMENT (store/comments.py, store/views.py): a migration that adds one comments it too.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import duckdb

from store.comments import COMMENTS
from store.views import VIEWS

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


# The document key becomes text ('doc-' and the SHA-256's first 16 hex digits): a BIGINT above
# 2^53 lost digits in CSV, Excel and JavaScript, and a key of digits only would still be turned
# into a number by Excel. Lines carry no sha256: theirs is looked up by the old number.
KEYS_AND_REVIEW = """
ALTER TABLE lines ADD COLUMN doc_key VARCHAR;
UPDATE lines SET doc_key = k.doc_key
FROM (SELECT doc_id, 'doc-' || left(sha256, 16) AS doc_key FROM documents
      UNION SELECT doc_id, 'doc-' || left(sha256, 16) FROM pages) AS k
WHERE lines.doc_id = k.doc_id;
-- none expected (documents are never deleted): an orphan line keeps its number, marked
ALTER TABLE lines ALTER doc_id SET DATA TYPE VARCHAR
    USING coalesce(doc_key, 'orphan-' || doc_id::VARCHAR);
ALTER TABLE lines DROP doc_key;
ALTER TABLE pages ALTER doc_id SET DATA TYPE VARCHAR USING 'doc-' || left(sha256, 16);
ALTER TABLE documents ALTER doc_id SET DATA TYPE VARCHAR USING 'doc-' || left(sha256, 16);
-- a duplicate has the very content of the document it repeats: that document's key is its own
ALTER TABLE files ALTER duplicate_of SET DATA TYPE VARCHAR
    USING CASE WHEN duplicate_of IS NOT NULL THEN 'doc-' || left(sha256, 16) END;
ALTER TABLE files ADD COLUMN doc_id VARCHAR;
UPDATE files SET doc_id = 'doc-' || left(sha256, 16);
ALTER TABLE pages ADD COLUMN repaired BOOLEAN;
ALTER TABLE documents ADD COLUMN word_count INTEGER;
ALTER TABLE documents ADD COLUMN weak_words INTEGER;
ALTER TABLE documents ADD COLUMN mean_word_confidence DOUBLE;
ALTER TABLE documents ADD COLUMN weakest_word_confidence DOUBLE;
ALTER TABLE documents ADD COLUMN needs_review BOOLEAN;
ALTER TABLE documents ADD COLUMN review_reasons VARCHAR[];
ALTER TABLE documents ADD COLUMN weak_below DOUBLE;
ALTER TABLE documents ADD COLUMN review_share DOUBLE;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "documents", DOCUMENTS),
    Migration(2, "pages and lines", PAGES_AND_LINES),
    Migration(3, "task attempts", TASK_ATTEMPTS),
    Migration(4, "hot-folder files and pruning", FILES),
    Migration(5, "text document keys, files.doc_id, the review, repaired pages", KEYS_AND_REVIEW),
    Migration(6, "comments on tables and columns", COMMENTS),
    Migration(7, "analysts' views", VIEWS),
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
