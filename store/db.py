"""DuckDB adapter: the live database behind an OS lock, analysts on a read-only snapshot.

DuckDB lets one process hold a file read-write or several read-only, never both, and processes
racing to open the same file lost commits in our measurements. So every opening of the live
file happens under an exclusive flock on a sibling `.lock` file, for one short transaction, and
analysts query a copy republished atomically (CHECKPOINT, copy, fsync, os.replace). DuckDB
errors are sorted into retry or give-up in `translate`, the one place for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from core.errors import NoSnapshotError, TransientError
from core.values import EngineInfo, Outputs, Page, Review, Source, review
from store import ddl, duck, rows, schema, snapshot
from store.duck import translated
from store.lock import file_lock
from store.rows import Attempt
from store.spool import Op, spool_write

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

STATUSES = ("processing", "done", "failed", "duplicate", "skipped")


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
        self._held: duckdb.DuckDBPyConnection | None = None
        self._held_lock: AbstractContextManager[None] | None = None

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
                return snapshot.query_snapshot(self.snapshot, statement, params)
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

    def hold(self) -> None:
        """Keep the writers' lock and one open connection until `let_go`: for the process that
        owns the live database through a busy spell (an opening costs about 25 ms of CPU, a
        transaction on an open connection about 4)."""
        if self._held is not None:
            return
        lock = self.lock()
        lock.__enter__()
        try:
            self._held = self._open()
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        self._held_lock = lock

    def let_go(self) -> None:
        """Close the held connection and release the lock (other processes may write)."""
        con, lock, self._held, self._held_lock = self._held, self._held_lock, None, None
        if con is not None:
            con.close()
        if lock is not None:
            lock.__exit__(None, None, None)

    def _open(self, read_only: bool = False, migrate: bool = True) -> duckdb.DuckDBPyConnection:
        with translated(self.live):
            con = duck.connect(self.live, read_only=read_only, **duck.LIVE)
            try:
                con.execute("SET TimeZone = 'UTC'")
                if migrate and not read_only and self.live not in _migrated:
                    if ddl.migrate(con):
                        con.execute("CHECKPOINT")  # schema changes never wait in a WAL
                    _migrated.add(self.live)
            except BaseException:
                con.close()
                raise
            return con

    @contextmanager
    def _connect(
        self, read_only: bool = False, migrate: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None:
            with translated(self.live):
                yield self._held
            return
        with self.lock():
            con = self._open(read_only, migrate)
            try:
                with translated(self.live):
                    yield con
            finally:
                con.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect() as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def migrate(self) -> list[int]:
        """Apply missing migrations to the live database; return the versions applied."""
        with self._connect(migrate=False) as con:
            applied = ddl.migrate(con)
            if applied:
                con.execute("CHECKPOINT")
        _migrated.add(self.live)
        return applied

    def start_document(
        self, source: Source, *, flow_run_id: str | None, relative_path: str | None = None
    ) -> None:
        """Mark a document 'processing' from now; a 'done' one keeps its results meanwhile."""
        now = rows.utcnow()
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
        low_confidence: float | None = None,
        review_share: float | None = None,
    ) -> Review | None:
        """Store a document's outcome; for 'done' also replace its pages and lines, and with
        both thresholds store its review (core.values.review), which is returned.

        One transaction, idempotent. A 'done' row is only ever overwritten by another 'done':
        a forced re-run that fails leaves the earlier results (its attempts say what failed).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown document status {status!r}; expected one of {STATUSES}")
        if len({page.number for page in pages}) != len(pages):
            raise ValueError(f"{source.name}: page numbers repeat")
        checked = None
        if status == "done" and low_confidence is not None and review_share is not None:
            checked = review(pages, low_confidence, review_share)
        row = rows.finish_row(
            source, outputs, engine, status, error_type, error_message, flow_run_id
        ) + rows.review_columns(checked, low_confidence, review_share)
        self.apply(
            [
                (schema.FINISH_DOCUMENT, row),
                *(rows.replace_pages(source, pages) if status == "done" else []),
            ]
        )
        log.debug("%s: stored as %s (%d pages)", source.name, status, len(pages))
        return checked

    def document_status(self, sha256: str) -> str | None:
        """The stored status of a document, or None when it was never seen."""
        rows = self._rows(schema.DOCUMENT_STATUS, [sha256])[1]
        return rows[0][0] if rows else None

    def record_attempt(self, attempt: Attempt) -> None:
        """Store one task attempt; recording the same attempt again replaces its row."""
        self.record_attempts([attempt])

    def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Store task attempts in one transaction (one spooled file)."""
        if attempts:
            self.apply([rows.attempt_op(attempt) for attempt in attempts])

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

    def publish_snapshot(self, force: bool = False, settled: bool = False) -> bool:
        """Republish the analysts' snapshot if due (or forced); True when it was copied.
        `settled`: nothing is in flight, so a change is published at once, not after the
        interval (it is the last for now: the interval only bounds the copies of a burst)."""
        if self.spool is not None:  # the owner publishes after loading the spool
            return False
        if not (force or self._snapshot_due(settled)):
            return False
        if not self.live.exists():
            return False
        with self._connect(migrate=False) as con:  # no writer between the checkpoint and copy
            if not (force or self._snapshot_due(settled)):
                return False
            con.execute("CHECKPOINT")
            snapshot.copy_atomically(self.live, self.snapshot)
        log.debug("published snapshot %s", self.snapshot)
        return True

    def _snapshot_due(self, settled: bool = False) -> bool:
        interval = 0.0 if settled else self.snapshot_interval
        return snapshot.due(self.live, self.snapshot, interval)

    def refresh_snapshot(self, force: bool = False, settled: bool = False) -> None:
        """Republish the snapshot if due; a failure is logged (the next refresh catches up)."""
        try:
            self.publish_snapshot(force, settled)
        except TransientError as exc:  # results are committed; the next publish catches up
            log.warning("snapshot %s not republished: %s", self.snapshot, exc)
