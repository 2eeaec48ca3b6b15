"""The statements that name DuckDB's columns, next to each other; `?` parameters only, no
identifier ever built from input. The DDL is in store/ddl.py (migrations), store/comments.py
and store/views.py.

Document keys: `doc_id` is text, 'doc-' and the SHA-256's first 16 hex digits (Source.doc_id);
statements that write `files` derive it from the row's sha256, so their callers pass none.
"""

from __future__ import annotations

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
                       updated_at, word_count, weak_words, mean_word_confidence,
                       weakest_word_confidence, needs_review, review_reasons, weak_below,
                       review_share)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
        ?, ?, ?, ?, ?, ?::VARCHAR[], ?, ?)
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
    updated_at = excluded.updated_at,
    word_count = excluded.word_count, weak_words = excluded.weak_words,
    mean_word_confidence = excluded.mean_word_confidence,
    weakest_word_confidence = excluded.weakest_word_confidence,
    needs_review = excluded.needs_review, review_reasons = excluded.review_reasons,
    weak_below = excluded.weak_below, review_share = excluded.review_share
WHERE documents.status <> 'done' OR excluded.status = 'done'
"""
DOCUMENT_STATUS = "SELECT status FROM documents WHERE sha256 = ?"
DELETE_PAGES = "DELETE FROM pages WHERE doc_id = ?"
DELETE_LINES = "DELETE FROM lines WHERE doc_id = ?"
INSERT_PAGES = """
INSERT INTO pages (doc_id, sha256, page_no, width_pt, height_pt, method, dpi, line_count,
                   mean_confidence, text, seconds, repaired)
SELECT ?, ?, unnest(?::INTEGER[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]),
       unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::INTEGER[]), unnest(?::DOUBLE[]),
       unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::BOOLEAN[])
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

# Both take the row's values in the VALUES order and derive doc_id from its sha256.
CLAIM_FILE = """
INSERT INTO files (file_id, relative_path, sha256, doc_id, size_bytes, status, location,
                   flow_run_id, claimed_at, updated_at)
SELECT file_id, relative_path, sha256, 'doc-' || left(sha256, 16), size_bytes, 'processing',
       location, flow_run_id, claimed_at, updated_at
FROM (VALUES (?, ?, ?, ?, ?, ?, ?, ?))
    AS v(file_id, relative_path, sha256, size_bytes, location, flow_run_id, claimed_at,
         updated_at)
ON CONFLICT (file_id) DO UPDATE SET
    sha256 = excluded.sha256, doc_id = excluded.doc_id, size_bytes = excluded.size_bytes,
    location = excluded.location, flow_run_id = excluded.flow_run_id,
    updated_at = excluded.updated_at
WHERE files.status = 'processing'
"""
PLACE_FILE = """
INSERT INTO files (file_id, relative_path, sha256, doc_id, size_bytes, status, location,
                   duplicate_of, error_type, error_message, flow_run_id, claimed_at,
                   finished_at, updated_at)
SELECT file_id, relative_path, sha256, 'doc-' || left(sha256, 16), size_bytes, status,
       location, duplicate_of, error_type, error_message, flow_run_id, claimed_at,
       finished_at, updated_at
FROM (VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))
    AS v(file_id, relative_path, sha256, size_bytes, status, location, duplicate_of,
         error_type, error_message, flow_run_id, claimed_at, finished_at, updated_at)
ON CONFLICT (file_id) DO UPDATE SET
    sha256 = coalesce(excluded.sha256, files.sha256),
    doc_id = coalesce(excluded.doc_id, files.doc_id),
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
# `tool-ocr status`: the latest documents flagged needs-review, and how many there are in all.
NEEDS_REVIEW = """
SELECT coalesce(relative_path, source_name), array_to_string(review_reasons, '; '),
       strftime(finished_at, '%Y-%m-%d %H:%M:%S UTC'), count(*) OVER ()
FROM documents WHERE status = 'done' AND needs_review
ORDER BY finished_at DESC LIMIT ?
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


# Pruning (tasks/prune.py): what is known about the files it is about to remove.
KNOWN_LOCATIONS = """
SELECT location, sha256 FROM files WHERE location IN (SELECT unnest(?::VARCHAR[]))
"""
DOCUMENTS_BY_PREFIX = """
SELECT sha256 FROM documents WHERE left(sha256, 8) IN (SELECT unnest(?::VARCHAR[]))
"""
