"""The analysts' snapshot: a copy of the live database, swapped in atomically, read-only.

An analyst's open connection keeps its consistent old copy; nothing an analyst runs can write
or reach the live file (no ATTACH, no COPY TO: external access is off).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from core.errors import NoSnapshotError, QueryError, TransientError
from store import duck
from store.duck import translate, translated

log = logging.getLogger(__name__)

_SNAPSHOT_TRIES = 3


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
    with translated(snapshot):
        # No ATTACH of the live file (it would bypass the writers' lock), no COPY TO anywhere.
        con = duck.connect(snapshot, read_only=True, enable_external_access=False)
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


def due(live: Path, snapshot: Path, interval: float) -> bool:
    """Whether the live database changed since the snapshot was published, `interval` or
    more seconds ago (or no snapshot exists yet)."""
    if not snapshot.exists():
        return live.exists()
    published = snapshot.stat().st_mtime
    changed = max(_mtime(live), _mtime(live.with_name(live.name + ".wal")))
    return changed > published and time.time() - published >= interval


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def copy_atomically(source: Path, target: Path) -> None:
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
