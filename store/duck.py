"""The DuckDB boundary: its errors sorted into "retry" and "give up" in one place.

Transient ones (a lock, I/O, a conflict, memory) become `TransientError`, which Prefect retries;
the rest stay as they are and fail the step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import DatabaseBusyError, TransientError

_RETRYABLE = (
    duckdb.IOException,
    duckdb.TransactionException,
    duckdb.ConnectionException,
    duckdb.OutOfMemoryException,
    duckdb.ResourceInUseException,
    duckdb.SerializationException,
)


def translate(exc: duckdb.Error, path: Path) -> BaseException:
    """Sort a DuckDB error: retryable ones become transient errors, the rest stay as they are."""
    message = str(exc).strip()
    if isinstance(exc, duckdb.IOException) and "lock" in message.lower():
        return DatabaseBusyError(
            f"{path} is open in another process ({message}). DuckDB allows one writer or "
            "several readers per file; only store.db may open the live database, "
            "analysts should query the snapshot"
        )
    if isinstance(exc, _RETRYABLE):
        return TransientError(f"DuckDB error on {path}, worth retrying: {message}")
    return exc


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Raise DuckDB errors met inside as `translate` sorts them."""
    try:
        yield
    except duckdb.Error as exc:
        error = translate(exc, path)
        if error is exc:
            raise
        raise error from exc
