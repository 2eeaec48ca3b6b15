"""The analysts' views (migration 7), each commented with its columns.

A view is stored as its SQL and bound when queried, so it follows the tables. Changing one later
takes a new migration that replaces it (CREATE OR REPLACE VIEW) and comments it again: a
replaced view loses its comments. Weak means below the document's own `weak_below` (the
low_confidence setting when it was recorded); documents recorded before that was stored (schema
version 5) use 0.8, the setting's default then.
"""

from __future__ import annotations

VIEWS = """
CREATE VIEW document_summary AS
SELECT d.doc_id, d.relative_path, d.source_name, d.status, d.page_count,
       d.word_count, d.weak_words, d.mean_word_confidence, d.weakest_word_confidence,
       d.needs_review, array_to_string(d.review_reasons, '; ') AS review_reasons,
       p.repaired, p.text, d.pdf_path, d.xlsx_path, d.json_path, d.txt_path,
       d.error_type, d.error_message, d.finished_at, d.sha256, d.flow_run_id
FROM documents d
LEFT JOIN (SELECT doc_id, string_agg(text, chr(12) ORDER BY page_no) AS text,
                  bool_or(repaired) AS repaired
           FROM pages GROUP BY doc_id) p USING (doc_id);
COMMENT ON VIEW document_summary IS
    'One row per document: where it came from, how sure its words are, whether a person should '
    'look at it and why, its full text and its outputs.';
COMMENT ON COLUMN document_summary.doc_id IS 'Document key (documents.doc_id).';
COMMENT ON COLUMN document_summary.relative_path IS
    'Where it was dropped, relative to the inbox; NULL for tool-ocr process.';
COMMENT ON COLUMN document_summary.source_name IS 'The original file name.';
COMMENT ON COLUMN document_summary.status IS 'processing, done or failed.';
COMMENT ON COLUMN document_summary.page_count IS 'Number of pages.';
COMMENT ON COLUMN document_summary.word_count IS 'Words read (NULL: not done).';
COMMENT ON COLUMN document_summary.weak_words IS 'Words below the low-confidence threshold.';
COMMENT ON COLUMN document_summary.mean_word_confidence IS 'Mean word confidence, 0 to 1.';
COMMENT ON COLUMN document_summary.weakest_word_confidence IS 'The least sure word''s confidence.';
COMMENT ON COLUMN document_summary.needs_review IS
    'True: no text at all, or too many weak words (documents.needs_review).';
COMMENT ON COLUMN document_summary.review_reasons IS 'Why it needs review, separated by "; ".';
COMMENT ON COLUMN document_summary.repaired IS 'True when MuPDF had to repair the PDF.';
COMMENT ON COLUMN document_summary.text IS
    'The full text: pages in order separated by a form feed (chr(12)), lines by newlines.';
COMMENT ON COLUMN document_summary.pdf_path IS 'The searchable PDF.';
COMMENT ON COLUMN document_summary.xlsx_path IS 'The Excel workbook.';
COMMENT ON COLUMN document_summary.json_path IS 'The JSON export.';
COMMENT ON COLUMN document_summary.txt_path IS 'The plain text.';
COMMENT ON COLUMN document_summary.error_type IS 'Why it failed, a short code.';
COMMENT ON COLUMN document_summary.error_message IS 'Why it failed, in words.';
COMMENT ON COLUMN document_summary.finished_at IS 'When its last run ended (UTC).';
COMMENT ON COLUMN document_summary.sha256 IS 'Content hash (documents.sha256).';
COMMENT ON COLUMN document_summary.flow_run_id IS 'The Prefect run that last read it.';

CREATE VIEW words AS
SELECT doc_id, page_no, line_no, word_no, word.text AS text, word.confidence AS confidence,
       word.x0 AS x0, word.y0 AS y0, word.x1 AS x1, word.y1 AS y1, line_text
FROM (SELECT doc_id, page_no, line_no, text AS line_text,
             unnest(boxes) AS word, unnest(generate_series(1, len(boxes))) AS word_no
      FROM (SELECT *, CASE WHEN len(words) > 0 THEN words
                      ELSE [{'text': text, 'confidence': confidence,
                             'x0': x0, 'y0': y0, 'x1': x1, 'y1': y1}] END AS boxes
            FROM lines));
COMMENT ON VIEW words IS
    'One row per word read (lines.words unnested). A line without word boxes is one word, as '
    'the review counts it.';
COMMENT ON COLUMN words.doc_id IS 'The document (documents.doc_id).';
COMMENT ON COLUMN words.page_no IS 'Page number, from 1.';
COMMENT ON COLUMN words.line_no IS 'Line number on the page, from 1.';
COMMENT ON COLUMN words.word_no IS 'Word number in the line, from 1.';
COMMENT ON COLUMN words.text IS 'The word.';
COMMENT ON COLUMN words.confidence IS 'Its confidence (its least sure character''s), 0 to 1.';
COMMENT ON COLUMN words.x0 IS 'Left edge of the word''s box, PDF points.';
COMMENT ON COLUMN words.y0 IS 'Top edge, points from the top of the page.';
COMMENT ON COLUMN words.x1 IS 'Right edge, points.';
COMMENT ON COLUMN words.y1 IS 'Bottom edge, points from the top of the page.';
COMMENT ON COLUMN words.line_text IS 'The whole line the word is in.';

CREATE VIEW low_confidence_words AS
SELECT w.doc_id, d.relative_path, d.source_name, w.page_no, w.line_no, w.word_no, w.text,
       w.confidence, coalesce(d.weak_below, 0.8) AS weak_below, w.line_text,
       w.x0, w.y0, w.x1, w.y1
FROM words w JOIN documents d USING (doc_id)
WHERE w.confidence < coalesce(d.weak_below, 0.8);
COMMENT ON VIEW low_confidence_words IS
    'Words read with confidence below their document''s weak_below: what to check by eye.';
COMMENT ON COLUMN low_confidence_words.doc_id IS 'The document (documents.doc_id).';
COMMENT ON COLUMN low_confidence_words.relative_path IS 'Where the file was dropped.';
COMMENT ON COLUMN low_confidence_words.source_name IS 'The original file name.';
COMMENT ON COLUMN low_confidence_words.page_no IS 'Page number, from 1.';
COMMENT ON COLUMN low_confidence_words.line_no IS 'Line number on the page, from 1.';
COMMENT ON COLUMN low_confidence_words.word_no IS 'Word number in the line, from 1.';
COMMENT ON COLUMN low_confidence_words.text IS 'The word as read.';
COMMENT ON COLUMN low_confidence_words.confidence IS 'Its confidence, 0 to 1.';
COMMENT ON COLUMN low_confidence_words.weak_below IS 'The threshold it fell below.';
COMMENT ON COLUMN low_confidence_words.line_text IS 'The whole line, for context.';
COMMENT ON COLUMN low_confidence_words.x0 IS 'Left edge of the word''s box, PDF points.';
COMMENT ON COLUMN low_confidence_words.y0 IS 'Top edge, points from the top of the page.';
COMMENT ON COLUMN low_confidence_words.x1 IS 'Right edge, points.';
COMMENT ON COLUMN low_confidence_words.y1 IS 'Bottom edge, points from the top of the page.';

CREATE VIEW low_confidence_lines AS
SELECT l.doc_id, d.relative_path, d.source_name, l.page_no, l.line_no, l.text, l.confidence,
       [w.text FOR w IN l.words IF w.confidence < coalesce(d.weak_below, 0.8)] AS weak_words,
       coalesce(d.weak_below, 0.8) AS weak_below, l.x0, l.y0, l.x1, l.y1
FROM lines l JOIN documents d USING (doc_id)
WHERE l.confidence < coalesce(d.weak_below, 0.8);
COMMENT ON VIEW low_confidence_lines IS
    'Lines holding a word below their document''s weak_below (a line is as sure as its weakest '
    'word), with those words.';
COMMENT ON COLUMN low_confidence_lines.doc_id IS 'The document (documents.doc_id).';
COMMENT ON COLUMN low_confidence_lines.relative_path IS 'Where the file was dropped.';
COMMENT ON COLUMN low_confidence_lines.source_name IS 'The original file name.';
COMMENT ON COLUMN low_confidence_lines.page_no IS 'Page number, from 1.';
COMMENT ON COLUMN low_confidence_lines.line_no IS 'Line number on the page, from 1.';
COMMENT ON COLUMN low_confidence_lines.text IS 'The line as read.';
COMMENT ON COLUMN low_confidence_lines.confidence IS 'Its confidence: its weakest word''s.';
COMMENT ON COLUMN low_confidence_lines.weak_words IS
    'Its words below the threshold (empty when the line has no word boxes).';
COMMENT ON COLUMN low_confidence_lines.weak_below IS 'The threshold.';
COMMENT ON COLUMN low_confidence_lines.x0 IS 'Left edge of the line''s box, PDF points.';
COMMENT ON COLUMN low_confidence_lines.y0 IS 'Top edge, points from the top of the page.';
COMMENT ON COLUMN low_confidence_lines.x1 IS 'Right edge, points.';
COMMENT ON COLUMN low_confidence_lines.y1 IS 'Bottom edge, points from the top of the page.';

CREATE VIEW task_runs AS
SELECT regexp_replace(a.attempt_key, '#[0-9]+$', '') AS task_run_key,
       any_value(a.task_name) AS task_name, any_value(a.flow_run_id) AS flow_run_id,
       any_value(a.task_run_id) AS task_run_id, any_value(a.sha256) AS sha256,
       'doc-' || left(any_value(a.sha256), 16) AS doc_id, any_value(a.page_no) AS page_no,
       max(a.attempt) AS attempts, max(a.attempt) - 1 AS retries,
       arg_max(a.state, a.attempt) AS final_state,
       arg_max(a.error_type, a.attempt) FILTER (WHERE a.state = 'FAILED') AS last_error_type,
       arg_max(a.error_message, a.attempt) FILTER (WHERE a.state = 'FAILED')
           AS last_error_message,
       min(a.started_at) AS started_at, max(a.ended_at) AS ended_at,
       sum(a.duration_s) AS seconds
FROM task_attempts a GROUP BY task_run_key;
COMMENT ON VIEW task_runs IS
    'One row per task run: its attempts, retries and how it ended (from task_attempts).';
COMMENT ON COLUMN task_runs.task_run_key IS 'The task run (task_attempts.attempt_key without #n).';
COMMENT ON COLUMN task_runs.task_name IS 'fingerprint, ingest, render, ocr, pdf, export or record.';
COMMENT ON COLUMN task_runs.flow_run_id IS 'The Prefect flow run (files.flow_run_id).';
COMMENT ON COLUMN task_runs.task_run_id IS 'The Prefect task run.';
COMMENT ON COLUMN task_runs.sha256 IS 'The document''s content hash; NULL before it was known.';
COMMENT ON COLUMN task_runs.doc_id IS 'The document (documents.doc_id); NULL likewise.';
COMMENT ON COLUMN task_runs.page_no IS 'The page, for tasks about one page.';
COMMENT ON COLUMN task_runs.attempts IS 'Attempts made: 1 plus the retries.';
COMMENT ON COLUMN task_runs.retries IS 'Attempts after the first.';
COMMENT ON COLUMN task_runs.final_state IS 'State of the last attempt: COMPLETED or FAILED.';
COMMENT ON COLUMN task_runs.last_error_type IS 'Why its last failed attempt failed (code).';
COMMENT ON COLUMN task_runs.last_error_message IS 'Why, in words.';
COMMENT ON COLUMN task_runs.started_at IS 'When the first attempt started (UTC).';
COMMENT ON COLUMN task_runs.ended_at IS 'When the last attempt ended (UTC).';
COMMENT ON COLUMN task_runs.seconds IS 'Seconds over all attempts.';

CREATE VIEW retries_per_task AS
SELECT task_name, count(*) AS task_runs, sum(attempts)::BIGINT AS attempts,
       sum(retries)::BIGINT AS retries, count(*) FILTER (WHERE retries > 0) AS runs_retried,
       count(*) FILTER (WHERE final_state = 'FAILED') AS runs_failed,
       avg(seconds) AS mean_seconds
FROM task_runs GROUP BY task_name;
COMMENT ON VIEW retries_per_task IS 'Per task: how often it was retried and how often it failed.';
COMMENT ON COLUMN retries_per_task.task_name IS 'The task.';
COMMENT ON COLUMN retries_per_task.task_runs IS 'Its runs.';
COMMENT ON COLUMN retries_per_task.attempts IS 'Attempts over all its runs.';
COMMENT ON COLUMN retries_per_task.retries IS 'Attempts after the first, over all its runs.';
COMMENT ON COLUMN retries_per_task.runs_retried IS 'Runs that needed more than one attempt.';
COMMENT ON COLUMN retries_per_task.runs_failed IS 'Runs whose last attempt failed.';
COMMENT ON COLUMN retries_per_task.mean_seconds IS 'Mean seconds per run, all attempts included.';
"""
