"""The DuckDB boundary: how every connection is opened, and its errors sorted into "retry" and
"give up" in one place.

Transient ones (a lock, I/O, a conflict, memory) become `TransientError`, which Prefect retries;
the rest stay as they are and fail the step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import DatabaseBusyError, TransientError

# Nothing is ever downloaded. DuckDB 2.0.1 replaying a WAL after a crash tries to *install*
# core_functions, which is statically linked, and with no internet the database would not open
# again (seen after a SIGKILL); with autoinstall off it loads the linked one.
CONFIG: dict[str, str | bool] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": True,
}

# The live database takes short transactions of a few hundred rows from one process at a time.
# One thread and a small buffer pool do them as fast (1,000 documents loaded through the spool:
# 27 s, against 26-33 s with DuckDB's defaults) and kept the watcher, which holds the database
# open through a burst, 14 MiB leaner at its peak (docs/benchmarks.md).
LIVE: dict[str, str | bool] = {"threads": "1", "memory_limit": "64MB"}


def connect(path: Path, read_only: bool = False, **config: str | bool) -> duckdb.DuckDBPyConnection:
    """A connection to `path` with our configuration (and `config` on top)."""
    return duckdb.connect(str(path), read_only=read_only, config={**CONFIG, **config})


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
