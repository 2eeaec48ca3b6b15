"""Results carried as immutable files, for workers on machines that do not own the database.

OS file locks are unreliable on NFS and SMB, so a worker whose TOOL_OCR_RESULTS_SPOOL is set
never opens DuckDB: each transaction it would have run becomes one JSON file (statement names
from store/schema.py and their parameters), written under a temporary name and renamed, so a
reader never sees half of one. The one process that owns the live database (the watcher on the
main machine) loads them in order, one transaction per file, then deletes the file. Statements
are idempotent upserts, so a file loaded twice (a crash between commit and delete) changes
nothing; only statements named in `LOADABLE` are ever run from a file.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from store import schema

log = logging.getLogger(__name__)

Op = tuple[str, Sequence[Any]]  # (schema statement, parameters)
LOADABLE = (
    "START_DOCUMENT",
    "RESTART_DONE_DOCUMENT",
    "FINISH_DOCUMENT",
    "DELETE_PAGES",
    "DELETE_LINES",
    "INSERT_PAGES",
    "INSERT_LINES",
    "RECORD_ATTEMPT",
    "CLAIM_FILE",
    "PLACE_FILE",
    "MOVED_DOCUMENT",
    "RECORD_PRUNED",
    "MARK_FILE_PRUNED",
    "FORGET_DOCUMENT_PAGES",
    "FORGET_DOCUMENT_LINES",
)
_NAMES = {getattr(schema, name): name for name in LOADABLE}
_sequence = itertools.count()


def spool_write(folder: Path, ops: Sequence[Op]) -> Path:
    """One transaction's statements as one immutable file in `folder`; returns its path."""
    body = {"ops": [[_name(statement), list(params)] for statement, params in ops]}
    name = f"{time.time_ns():020d}-{next(_sequence):06d}-{socket.gethostname()}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(body, out, default=_encode)
        out.flush()
        os.fsync(out.fileno())
    target = folder / f"{name}.json"
    os.replace(tmp, target)
    return target


class Applier(Protocol):
    """What loads spooled transactions: `store.db.Store` (no import of it here, no cycle)."""

    def apply(self, ops: Sequence[Op]) -> None: ...


def load_spool(folder: Path, store: Applier, limit: int = 500) -> int:
    """Apply up to `limit` spooled transactions to `store`'s live database, oldest first.

    All of them in one transaction (a burst costs one database opening, not one a file); if
    DuckDB refuses that, one by one, so only the offending file is set aside."""
    batch = [
        (path, ops)
        for path in sorted(folder.glob("*.json"))[:limit]
        if (ops := _read(path)) is not None
    ]
    if not batch:
        return 0
    try:
        store.apply([op for _, ops in batch for op in ops])
    except duckdb.Error:  # not transient (those are translated and raised): find the culprit
        return sum(_load_one(path, ops, store) for path, ops in batch)
    for path, _ in batch:
        path.unlink()
    log.debug("loaded %d spooled transaction(s) from %s", len(batch), folder)
    return len(batch)


def _read(path: Path) -> list[Op] | None:
    """The statements of one spooled transaction; an unreadable file is set aside."""
    try:
        return [
            (getattr(schema, _loadable(name)), _decode_all(params))
            for name, params in json.loads(path.read_text("utf-8"))["ops"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        bad = path.with_suffix(".rejected")
        path.rename(bad)
        log.error("spooled results %s unreadable (%s): set aside as %s", path.name, exc, bad.name)
        return None


def _load_one(path: Path, ops: list[Op], store: Applier) -> int:
    try:
        store.apply(ops)
    except duckdb.Error as exc:
        path.rename(path.with_suffix(".rejected"))
        log.error("spooled results %s refused by DuckDB (%s): set aside", path.name, exc)
        return 0
    path.unlink()
    return 1


def _name(statement: str) -> str:
    try:
        return _NAMES[statement]
    except KeyError:
        raise ValueError("only tasks.schema statements listed in LOADABLE can be spooled") from None


def _loadable(name: str) -> str:
    if name not in LOADABLE:
        raise ValueError(f"statement {name!r} is not loadable")
    return name


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode_all(params: list[Any]) -> list[Any]:
    return [_decode(value) for value in params]


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$datetime"}:
        return datetime.fromisoformat(value["$datetime"])
    return value
