"""An exclusive, fair, bounded-wait OS lock: the one way into the live DuckDB file."""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import DatabaseBusyError


@contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `path`, waiting at most `timeout` seconds (DatabaseBusyError).

    Waiters queue on a second flock (`<path>.queue`) first, and only the queue's holder polls
    `path`: the process that just released `path` cannot grab it straight back while others
    starve (measured: waits of seconds under four busy writers without the queue).
    """
    deadline = time.monotonic() + timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    queue = os.open(path.with_name(path.name + ".queue"), os.O_RDWR | os.O_CREAT, 0o644)
    main = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(queue, path, deadline, timeout, pause=0.01)
        try:
            _acquire(main, path, deadline, timeout, pause=0.001)
        finally:
            fcntl.flock(queue, fcntl.LOCK_UN)
        os.ftruncate(main, 0)
        os.pwrite(main, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(main, fcntl.LOCK_UN)
    finally:
        os.close(queue)
        os.close(main)


def _acquire(fd: int, path: Path, deadline: float, timeout: float, pause: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = path.read_text(errors="replace").strip() or "unknown"
                raise DatabaseBusyError(
                    f"database lock {path} still held after {timeout:g}s (last taken by pid "
                    f"{holder}); another pipeline process is writing or stuck"
                ) from None
            time.sleep(min(remaining, random.uniform(pause / 2, pause)))
