"""COMMENT ON every table and column (migration 6), so `duckdb_tables()` and `duckdb_columns()`
explain the snapshot to whoever opens it; the snapshot is a file copy and carries them.

Keys: `doc_id` is text ('doc-' and the first 16 hex digits of the content's SHA-256), the same
in documents, pages, lines and files, so it survives CSV, Excel and JavaScript exactly.
"""

from __future__ import annotations

COMMENTS = """
COMMENT ON TABLE schema_migrations IS
    'One row per schema migration applied to this database, in order (store/ddl.py).';
COMMENT ON COLUMN schema_migrations.version IS 'Migration number, 1, 2, ...';
COMMENT ON COLUMN schema_migrations.name IS 'What the migration changed.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied (UTC).';

COMMENT ON TABLE documents IS
    'One row per distinct file content (two copies of a scan are one document). Join pages, '
    'lines and files on doc_id. A done document processed again keeps its results until a new '
    'done replaces them.';
COMMENT ON COLUMN documents.sha256 IS 'SHA-256 of the file content, hex; the primary key.';
COMMENT ON COLUMN documents.doc_id IS
    'Document key: ''doc-'' and the first 16 hex digits of sha256. Text, so CSV, Excel and '
    'JavaScript keep it exact. Join key of pages, lines and files.';
COMMENT ON COLUMN documents.status IS 'processing, done or failed.';
COMMENT ON COLUMN documents.source_name IS 'The file name as it was dropped or named.';
COMMENT ON COLUMN documents.source_path IS 'Where the original is now (processed/ once placed).';
COMMENT ON COLUMN documents.relative_path IS
    'Where it was dropped, relative to the inbox; NULL for tool-ocr process.';
COMMENT ON COLUMN documents.kind IS
    'Format read from the content: png, jpeg, tiff, bmp, webp, gif, jp2 or pdf.';
COMMENT ON COLUMN documents.size_bytes IS 'File size in bytes.';
COMMENT ON COLUMN documents.page_count IS 'Number of pages.';
COMMENT ON COLUMN documents.started_at IS 'When the last run started reading it (UTC).';
COMMENT ON COLUMN documents.finished_at IS 'When the last run ended (UTC).';
COMMENT ON COLUMN documents.duration_s IS 'Seconds from started_at to finished_at.';
COMMENT ON COLUMN documents.pdf_path IS 'The searchable PDF.';
COMMENT ON COLUMN documents.xlsx_path IS 'The Excel workbook.';
COMMENT ON COLUMN documents.json_path IS 'The JSON export.';
COMMENT ON COLUMN documents.txt_path IS 'The plain text.';
COMMENT ON COLUMN documents.error_type IS
    'Why it failed, a short code: corrupt_file, too_large, unsupported_file, ...';
COMMENT ON COLUMN documents.error_message IS 'Why it failed, in words.';
COMMENT ON COLUMN documents.engine IS 'The OCR engine that read it.';
COMMENT ON COLUMN documents.engine_version IS 'The engine''s version.';
COMMENT ON COLUMN documents.models IS 'The models it used (JSON: weights, character set).';
COMMENT ON COLUMN documents.flow_run_id IS
    'The Prefect flow run that last read this content: a hot-folder file''s ocr-inbox run '
    '(equal to files.flow_run_id of the arrival that was read), or tool-ocr process''s '
    'ocr-document run. Join files to documents on doc_id, not on this.';
COMMENT ON COLUMN documents.updated_at IS 'Last change of the row (UTC).';
COMMENT ON COLUMN documents.word_count IS
    'Words read (a line without word boxes counts as one word). NULL: not done, or recorded '
    'before the review was stored (schema version 5).';
COMMENT ON COLUMN documents.weak_words IS 'Words read with confidence below weak_below.';
COMMENT ON COLUMN documents.mean_word_confidence IS 'Mean confidence over the words, 0 to 1.';
COMMENT ON COLUMN documents.weakest_word_confidence IS
    'Confidence of the least sure word (a word is as sure as its least sure character).';
COMMENT ON COLUMN documents.needs_review IS
    'True when a person should look at it: no text at all, or more than review_share of its '
    'words below weak_below.';
COMMENT ON COLUMN documents.review_reasons IS 'Why it needs review (empty when it does not).';
COMMENT ON COLUMN documents.weak_below IS
    'The low_confidence setting when it was recorded: words below it are weak.';
COMMENT ON COLUMN documents.review_share IS
    'The review_share setting when it was recorded: the share of weak words that flags it.';

COMMENT ON TABLE pages IS 'One row per page of a done document.';
COMMENT ON COLUMN pages.doc_id IS 'The document (documents.doc_id).';
COMMENT ON COLUMN pages.sha256 IS 'The document''s content hash (documents.sha256).';
COMMENT ON COLUMN pages.page_no IS 'Page number, from 1.';
COMMENT ON COLUMN pages.width_pt IS 'Page width in PDF points (1/72 inch), upright.';
COMMENT ON COLUMN pages.height_pt IS 'Page height in PDF points, upright.';
COMMENT ON COLUMN pages.method IS
    'ocr (read by the engine) or text (the PDF''s own text layer was used).';
COMMENT ON COLUMN pages.dpi IS 'Resolution of the raster the engine read; NULL for text pages.';
COMMENT ON COLUMN pages.line_count IS 'Lines read on the page.';
COMMENT ON COLUMN pages.mean_confidence IS 'Mean of its lines'' confidence; NULL without lines.';
COMMENT ON COLUMN pages.text IS 'The page''s text, lines separated by newlines.';
COMMENT ON COLUMN pages.seconds IS 'Seconds spent reading the page.';
COMMENT ON COLUMN pages.repaired IS
    'True when the PDF was damaged and MuPDF rebuilt it to read this page; NULL when recorded '
    'before schema version 5.';

COMMENT ON TABLE lines IS
    'One row per text line, in reading order. Boxes in PDF points, origin top-left.';
COMMENT ON COLUMN lines.doc_id IS 'The document (documents.doc_id).';
COMMENT ON COLUMN lines.page_no IS 'Page number, from 1.';
COMMENT ON COLUMN lines.line_no IS 'Line number on the page in reading order, from 1.';
COMMENT ON COLUMN lines.text IS 'The line''s text.';
COMMENT ON COLUMN lines.confidence IS 'The line''s confidence: its weakest word''s, 0 to 1.';
COMMENT ON COLUMN lines.x0 IS 'Left edge of the line''s box, points.';
COMMENT ON COLUMN lines.y0 IS 'Top edge, points from the top of the page.';
COMMENT ON COLUMN lines.x1 IS 'Right edge, points.';
COMMENT ON COLUMN lines.y1 IS 'Bottom edge, points from the top of the page.';
COMMENT ON COLUMN lines.words IS
    'The words: list of {text, confidence, x0, y0, x1, y1}; a word is as sure as its least '
    'sure character. Empty when the engine gave no word boxes. One row each: the words view.';

COMMENT ON TABLE task_attempts IS
    'One row per attempt of a pipeline task, retries included. Per task run: task_runs; per '
    'task: retries_per_task.';
COMMENT ON COLUMN task_attempts.attempt_key IS 'Task run and attempt number; the primary key.';
COMMENT ON COLUMN task_attempts.flow_run_id IS
    'The Prefect flow run (files.flow_run_id for a hot-folder file).';
COMMENT ON COLUMN task_attempts.task_run_id IS 'The Prefect task run; its attempts share it.';
COMMENT ON COLUMN task_attempts.task_name IS
    'fingerprint, ingest, render, ocr, pdf, export or record.';
COMMENT ON COLUMN task_attempts.sha256 IS
    'The document''s content hash (documents.sha256); NULL before it was known.';
COMMENT ON COLUMN task_attempts.page_no IS 'The page, for tasks about one page.';
COMMENT ON COLUMN task_attempts.attempt IS 'Attempt number: 1, then 2, 3 for retries.';
COMMENT ON COLUMN task_attempts.started_at IS 'When the attempt started (UTC).';
COMMENT ON COLUMN task_attempts.ended_at IS 'When it ended (UTC).';
COMMENT ON COLUMN task_attempts.duration_s IS 'Seconds it took.';
COMMENT ON COLUMN task_attempts.state IS 'COMPLETED or FAILED.';
COMMENT ON COLUMN task_attempts.error_type IS 'Why it failed, a short code.';
COMMENT ON COLUMN task_attempts.error_message IS 'Why it failed, in words.';

COMMENT ON TABLE files IS
    'One row per file that entered the hot folder (an arrival: two copies of a scan are two '
    'rows and one document). Join documents on doc_id.';
COMMENT ON COLUMN files.file_id IS 'Claim id and relative path: unique per arrival.';
COMMENT ON COLUMN files.relative_path IS 'Where it was dropped, relative to the inbox.';
COMMENT ON COLUMN files.sha256 IS 'Content hash; NULL when refused before it could be read.';
COMMENT ON COLUMN files.size_bytes IS 'File size in bytes.';
COMMENT ON COLUMN files.status IS 'processing, processed, failed or duplicate.';
COMMENT ON COLUMN files.location IS 'Where the original is now; NULL once pruned.';
COMMENT ON COLUMN files.duplicate_of IS
    'For a duplicate: the doc_id of the document it repeats (same content, so equal to doc_id).';
COMMENT ON COLUMN files.error_type IS 'Why it failed, a short code.';
COMMENT ON COLUMN files.error_message IS 'Why it failed, in words.';
COMMENT ON COLUMN files.flow_run_id IS
    'The ocr-inbox flow run that read this arrival (task_attempts.flow_run_id of its '
    'attempts); NULL for a duplicate of content already done, which no run read.';
COMMENT ON COLUMN files.claimed_at IS 'When the watcher claimed it (UTC).';
COMMENT ON COLUMN files.finished_at IS 'When it was placed (UTC).';
COMMENT ON COLUMN files.pruned_at IS 'When the original was pruned (UTC).';
COMMENT ON COLUMN files.updated_at IS 'Last change of the row (UTC).';
COMMENT ON COLUMN files.doc_id IS
    'Its content''s document (documents.doc_id); NULL when refused before it could be read.';

COMMENT ON TABLE pruned_files IS 'One row per file removed by prune-expired.';
COMMENT ON COLUMN pruned_files.path IS 'The file removed.';
COMMENT ON COLUMN pruned_files.folder IS 'Its top folder: processed, output, duplicates or failed.';
COMMENT ON COLUMN pruned_files.sha256 IS 'Its document''s content hash, when known.';
COMMENT ON COLUMN pruned_files.size_bytes IS 'Its size when removed.';
COMMENT ON COLUMN pruned_files.modified_at IS 'Its mtime when removed (UTC).';
COMMENT ON COLUMN pruned_files.pruned_at IS 'When it was removed (UTC).';
COMMENT ON COLUMN pruned_files.flow_run_id IS 'The prune-expired flow run that removed it.';
"""
