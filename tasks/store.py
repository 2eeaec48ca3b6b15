"""DuckDB adapter: the live database behind an OS lock, analysts on a read-only snapshot.

DuckDB lets one process hold a file read-write or several read-only, never both, and processes
racing to open the same file lost commits in our measurements. So every opening of the live
file happens under an exclusive flock on a sibling `.lock` file, for one short transaction, and
analysts query a copy republished atomically (CHECKPOINT, copy, fsync, os.replace). DuckDB
errors are sorted into retry or give-up in `translate`, the one place for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tasks import schema
from tasks.filelock import file_lock
from tasks.spool import Op, spool_write
from tool_ocr.errors import DatabaseBusyError, NoSnapshotError, QueryError, TransientError
from tool_ocr.models import EngineInfo, Outputs, Page, Source

if TYPE_CHECKING:
    from tool_ocr.settings import Settings

log = logging.getLogger(__name__)

STATUSES = ("processing", "done", "failed", "duplicate", "skipped")
STATES = ("COMPLETED", "FAILED")
_RETRYABLE = (
    duckdb.IOException,
    duckdb.TransactionException,
    duckdb.ConnectionException,
    duckdb.OutOfMemoryException,
    duckdb.ResourceInUseException,
    duckdb.SerializationException,
)


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


def translate(exc: duckdb.Error, path: Path) -> BaseException:
    """Sort a DuckDB error: retryable ones become transient errors, the rest stay as they are."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.IOException) and "lock" in message.lower():
        return DatabaseBusyError(
            f"{path} is open in another process ({message}). DuckDB allows one writer or "
            "several readers per file; only tasks.store may open the live database, "
            "analysts should query the snapshot"
        )
    if isinstance(exc, _RETRYABLE):
        return TransientError(f"DuckDB error on {path}, worth retrying: {message}")
    return exc


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except duckdb.Error as exc:
        error = translate(exc, path)
        if error is exc:
            raise
        raise error from exc


def _now() -> datetime:
    return datetime.now(UTC)


_SNAPSHOT_TRIES = 3
_migrated: set[Path] = set()  # live databases this process has brought up to date


class Store:
    """Short locked transactions on the live database; a throttled snapshot for analysts."""

    def __init__(
        self,
        live: Path,
        snapshot: Path,
        *,
        lock_timeout: float = 60.0,
        snapshot_interval: float = 5.0,
        spool: Path | None = None,
    ) -> None:
        self.live = Path(live)
        self.snapshot = Path(snapshot)
        self.lock_path = self.live.with_name(self.live.name + ".lock")
        self.lock_timeout = lock_timeout
        self.snapshot_interval = snapshot_interval
        self.spool = spool  # set: writes become files there, reads use the snapshot

    @classmethod
    def from_settings(cls, settings: Settings, lock_timeout: float | None = None) -> Store:
        return cls(
            settings.live_db,
            settings.snapshot,
            lock_timeout=lock_timeout or settings.db_lock_timeout,
            snapshot_interval=settings.snapshot_interval,
            spool=settings.results_spool,
        )

    def owner(self) -> Store:
        """This store as the one process that owns the live database sees it (no spool)."""
        return Store(
            self.live,
            self.snapshot,
            lock_timeout=self.lock_timeout,
            snapshot_interval=self.snapshot_interval,
        )

    def apply(self, ops: Sequence[Op]) -> None:
        """Run (statement, parameters) pairs in one transaction, or spool them as one file."""
        if self.spool is not None:
            spool_write(self.spool, ops)
            return
        with self._transaction() as con:
            for statement, params in ops:
                con.execute(statement, list(params))

    def _rows(self, statement: str, params: Sequence[Any]) -> tuple[list[str], list[Any]]:
        """(columns, rows) of a query: the live database here, the snapshot when spooling."""
        if self.spool is not None:
            try:
                return query_snapshot(self.snapshot, statement, params)
            except NoSnapshotError:
                return [], []
        if not self.live.exists():
            return [], []
        with self._connect() as con:  # read-write so a database from an older release migrates
            cursor = con.execute(statement, list(params))
            return [c[0] for c in cursor.description or ()], cursor.fetchall()

    def lock(self) -> AbstractContextManager[None]:
        """The writers' exclusive lock; hold it only for one short transaction."""
        return file_lock(self.lock_path, self.lock_timeout)

    @contextmanager
    def _connect(
        self, read_only: bool = False, migrate: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.lock(), _translated(self.live):
            con = duckdb.connect(str(self.live), read_only=read_only)
            try:
                con.execute("SET TimeZone = 'UTC'")
                if migrate and not read_only and self.live not in _migrated:
                    schema.migrate(con)
                    _migrated.add(self.live)
                yield con
            finally:
                con.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect() as con:
            con.begin()
            yield con  # an exception leaves the transaction open: close() rolls it back
            con.commit()

    def migrate(self) -> list[int]:
        """Apply missing migrations to the live database; return the versions applied."""
        with self._connect(migrate=False) as con:
            applied = schema.migrate(con)
        _migrated.add(self.live)
        return applied

    def start_document(
        self, source: Source, *, flow_run_id: str | None, relative_path: str | None = None
    ) -> None:
        """Mark a document 'processing' from now; a 'done' one keeps its results meanwhile."""
        now = _now()
        self.apply(
            [
                (
                    schema.START_DOCUMENT,
                    [
                        source.sha256,
                        source.doc_id,
                        source.name,
                        str(source.path),
                        relative_path,
                        source.kind,
                        source.size,
                        source.page_count,
                        now,
                        flow_run_id,
                        now,
                    ],
                ),
                (schema.RESTART_DONE_DOCUMENT, [now, now, source.sha256]),
            ]
        )
        log.debug("%s: stored as processing (%s)", source.name, source.sha256[:12])

    def finish_document(
        self,
        source: Source,
        pages: Sequence[Page],
        outputs: Outputs | None,
        engine: EngineInfo | None,
        *,
        status: str,
        error_type: str | None = None,
        error_message: str | None = None,
        flow_run_id: str | None = None,
    ) -> None:
        """Store a document's outcome; for 'done' also replace its pages and lines.

        One transaction, idempotent. A 'done' row is only ever overwritten by another 'done':
        a forced re-run that fails leaves the earlier results (its attempts say what failed).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown document status {status!r}; expected one of {STATUSES}")
        if len({page.number for page in pages}) != len(pages):
            raise ValueError(f"{source.name}: page numbers repeat")
        row = _finish_row(source, outputs, engine, status, error_type, error_message, flow_run_id)
        self.apply(
            [
                (schema.FINISH_DOCUMENT, row),
                *(_replace_pages(source, pages) if status == "done" else []),
            ]
        )
        log.debug("%s: stored as %s (%d pages)", source.name, status, len(pages))

    def document_status(self, sha256: str) -> str | None:
        """The stored status of a document, or None when it was never seen."""
        rows = self._rows(schema.DOCUMENT_STATUS, [sha256])[1]
        return rows[0][0] if rows else None

    def record_attempt(self, attempt: Attempt) -> None:
        """Store one task attempt; recording the same attempt again replaces its row."""
        duration = (attempt.ended_at - attempt.started_at).total_seconds()
        self.apply(
            [
                (
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
            ]
        )
        log.debug(
            "%s: attempt %s of %s %s",
            attempt.sha256,
            attempt.attempt,
            attempt.task_name,
            attempt.state,
        )

    def attempts(self, sha256: str) -> list[dict[str, Any]]:
        """Every recorded task attempt for one document, oldest first."""
        names, rows = self._rows(schema.ATTEMPTS, [sha256])
        return [dict(zip(names, row, strict=True)) for row in rows]

    def write(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one `schema` statement for each parameter row, all in one transaction."""
        self.apply([(statement, list(row)) for row in rows])

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only `schema` query ([] before the database exists)."""
        return [tuple(row) for row in self._rows(statement, params)[1]]

    def publish_snapshot(self, force: bool = False) -> bool:
        """Republish the analysts' snapshot if due (or forced); True when it was copied."""
        if self.spool is not None:  # the owner publishes after loading the spool
            return False
        if not (force or self._snapshot_due()):
            return False
        with self.lock():
            if not self.live.exists() or not (force or self._snapshot_due()):
                return False
            with _translated(self.live):
                con = duckdb.connect(str(self.live))
                try:
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
            _copy_atomically(self.live, self.snapshot)
        log.debug("published snapshot %s", self.snapshot)
        return True

    def _snapshot_due(self) -> bool:
        if not self.snapshot.exists():
            return self.live.exists()
        published = self.snapshot.stat().st_mtime
        changed = max(_mtime(self.live), _mtime(self.live.with_name(self.live.name + ".wal")))
        return changed > published and time.time() - published >= self.snapshot_interval

    def refresh_snapshot(self, force: bool = False) -> None:
        """Republish the snapshot if due; a failure is logged (the next refresh catches up)."""
        try:
            self.publish_snapshot(force)
        except TransientError as exc:  # results are committed; the next publish catches up
            log.warning("snapshot %s not republished: %s", self.snapshot, exc)


def query_snapshot(
    snapshot: Path, sql: str, params: Sequence[Any] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query on the read-only snapshot; return (column names, rows)."""
    snapshot = Path(snapshot)
    if not snapshot.exists():
        raise NoSnapshotError(
            f"no snapshot at {snapshot} yet: it is published once the "
            "pipeline has stored its first document"
        )
    for attempt in range(1, _SNAPSHOT_TRIES + 1):
        try:
            return _query(snapshot, sql, params)
        except TransientError as exc:  # a rare torn open while the copy is being swapped in
            if attempt == _SNAPSHOT_TRIES:
                raise
            log.debug("snapshot %s: %s; opening again", snapshot, exc)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _query(
    snapshot: Path, sql: str, params: Sequence[Any]
) -> tuple[list[str], list[tuple[Any, ...]]]:
    with _translated(snapshot):
        # No ATTACH of the live file (it would bypass the writers' lock), no COPY TO anywhere.
        con = duckdb.connect(
            str(snapshot), read_only=True, config={"enable_external_access": False}
        )
    try:
        cursor = con.execute(sql, list(params))
        if cursor.description is None:
            return [], []
        return [column[0] for column in cursor.description], cursor.fetchall()
    except duckdb.Error as exc:
        error = translate(exc, snapshot)
        raise (error if error is not exc else QueryError(f"query refused: {exc}")) from exc
    finally:
        con.close()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy under a temporary name beside `target`, fsync, then os.replace (readers keep theirs)."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as reader, temporary.open("wb") as writer:
            while chunk := reader.read(1 << 20):
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise TransientError(f"could not publish snapshot {target}: {exc}") from exc


def _finish_row(
    source: Source,
    outputs: Outputs | None,
    engine: EngineInfo | None,
    status: str,
    error_type: str | None,
    error_message: str | None,
    flow_run_id: str | None,
) -> list[Any]:
    paths = outputs.as_dict() if outputs else {}
    now = _now()
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


def _replace_pages(source: Source, pages: Sequence[Page]) -> list[Op]:
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
