"""Rows as the schema's statements take them: a task attempt, a document's outcome and review,
its pages and lines (one list parameter per column, inserted with unnest in one statement)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.values import EngineInfo, Outputs, Page, Review, Source
from store import schema
from store.spool import Op

STATES = ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class Attempt:
    """One attempt of one task (retries included), as stored in `task_attempts`."""

    task_name: str
    attempt: int  # 1-based
    started_at: datetime
    ended_at: datetime
    state: str  # COMPLETED | FAILED
    sha256: str | None = None
    page_no: int | None = None
    flow_run_id: str | None = None
    task_run_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES or self.attempt < 1:
            raise ValueError(f"bad attempt: state={self.state!r}, attempt={self.attempt}")
        if self.started_at.tzinfo is None or self.ended_at.tzinfo is None:
            raise ValueError("attempt times must be timezone-aware (UTC)")

    @property
    def key(self) -> str:
        """Idempotency key: task run id (or a hash of what identifies the run) and attempt."""
        run = (
            self.task_run_id
            or "gen-"
            + hashlib.sha256(
                repr(
                    (
                        self.flow_run_id,
                        self.task_name,
                        self.sha256,
                        self.page_no,
                        self.started_at.isoformat(),
                    )
                ).encode()
            ).hexdigest()[:32]
        )
        return f"{run}#{self.attempt}"


def attempt_op(attempt: Attempt) -> Op:
    """The statement that stores one task attempt (its key makes it idempotent)."""
    duration = (attempt.ended_at - attempt.started_at).total_seconds()
    return (
        schema.RECORD_ATTEMPT,
        [
            attempt.key,
            attempt.flow_run_id,
            attempt.task_run_id,
            attempt.task_name,
            attempt.sha256,
            attempt.page_no,
            attempt.attempt,
            attempt.started_at,
            attempt.ended_at,
            duration,
            attempt.state,
            attempt.error_type,
            attempt.error_message,
        ],
    )


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def finish_row(
    source: Source,
    outputs: Outputs | None,
    engine: EngineInfo | None,
    status: str,
    error_type: str | None,
    error_message: str | None,
    flow_run_id: str | None,
) -> list[Any]:
    """The `documents` row (schema.FINISH_DOCUMENT) up to its review columns."""
    paths = outputs.as_dict() if outputs else {}
    now = utcnow()
    return [
        source.sha256,
        source.doc_id,
        status,
        source.name,
        str(source.path),
        source.kind,
        source.size,
        source.page_count,
        now,
        paths.get("pdf"),
        paths.get("xlsx"),
        paths.get("json"),
        paths.get("txt"),
        error_type,
        error_message,
        engine.name if engine else None,
        engine.version if engine else None,
        json.dumps(engine.models, sort_keys=True) if engine else None,
        flow_run_id,
        now,
    ]


def review_columns(
    checked: Review | None, low_confidence: float | None, review_share: float | None
) -> list[Any]:
    """The review columns of schema.FINISH_DOCUMENT: the review and the thresholds it used
    (all NULL when no review was made: a failed document)."""
    if checked is None:
        return [None] * 8
    return [
        checked.words,
        checked.weak_words,
        checked.mean_confidence,
        checked.weakest,
        checked.needed,
        list(checked.reasons),
        low_confidence,
        review_share,
    ]


def replace_pages(source: Source, pages: Sequence[Page]) -> list[Op]:
    ops: list[Op] = [(schema.DELETE_PAGES, [source.doc_id]), (schema.DELETE_LINES, [source.doc_id])]
    page_rows = [
        (
            p.number,
            p.width,
            p.height,
            p.method,
            p.dpi,
            len(p.lines),
            p.mean_confidence,
            p.text,
            p.seconds,
            p.repaired,
        )
        for p in pages
    ]
    if page_rows:
        ops.append((schema.INSERT_PAGES, [source.doc_id, source.sha256, *_columns(page_rows)]))
    line_rows = [
        (
            p.number,
            no,
            line.text,
            line.confidence,
            *line.box,
            [
                {
                    "text": w.text,
                    "confidence": w.confidence,
                    "x0": w.box[0],
                    "y0": w.box[1],
                    "x1": w.box[2],
                    "y1": w.box[3],
                }
                for w in line.words
            ],
        )
        for p in pages
        for no, line in enumerate(p.lines, 1)
    ]
    if line_rows:
        ops.append((schema.INSERT_LINES, [source.doc_id, *_columns(line_rows)]))
    return ops


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows to columns: one list parameter per column, inserted with unnest in one statement."""
    return [list(column) for column in zip(*rows, strict=True)]
