"""When is a dropped file ready? Pure logic with an injectable clock, no I/O.

A file is ready once no event touched it for `quiet` seconds and two looks at it (size and
mtime) agree across that period. Scanners and SMB copies write slowly; a half-written file keeps
moving its size or mtime and keeps being touched, so it is never handed on early.

A file whose writer said it is done (its last write event was the writer closing it, or it was
renamed into place) waits only `settle` seconds: the quiet period exists for writers that never
say so, and a drop should not wait seconds for nothing. A writer that opens the file again
writes to it, which makes it a file still being written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Clock = Callable[[], float]


@dataclass
class _Seen:
    since: float  # when it last changed or was touched
    size: int | None = None
    mtime: float | None = None
    closed: bool = False  # the last write event was its writer closing it (or a rename)


class Readiness:
    """Tracks candidate files; `ready()` lists those quiet for long enough, oldest first."""

    def __init__(
        self, quiet: float, settle: float | None = None, clock: Clock = time.monotonic
    ) -> None:
        self.quiet = quiet
        self.settle = quiet if settle is None else settle  # None: a close shortens nothing
        self.clock = clock
        self._seen: dict[Path, _Seen] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, path: object) -> bool:
        return path in self._seen

    def touch(self, path: Path, closed: bool | None = False) -> None:
        """An event on `path`: its quiet period starts again. `closed`: the writer closed it
        or renamed it into place (True), wrote to it (False), or only changed its metadata
        (None: as it was)."""
        seen = self._seen.setdefault(path, _Seen(self.clock()))
        seen.since = self.clock()
        if closed is not None:
            seen.closed = closed

    def observe(self, path: Path, size: int, mtime: float) -> None:
        """A look at `path`'s size and mtime; a change since the last look restarts its quiet
        period (the first look does not: the event or scan that found it started it)."""
        seen = self._seen.setdefault(path, _Seen(self.clock()))
        if seen.size is not None and (seen.size, seen.mtime) != (size, mtime):
            seen.since = self.clock()
        seen.size, seen.mtime = size, mtime

    def ready(self) -> list[Path]:
        """Files looked at and unchanged for `quiet` seconds, longest-waiting first."""
        now = self.clock()
        quiet = [
            (seen.since, path)
            for path, seen in self._seen.items()
            if seen.size is not None and now - seen.since >= self._wait(seen)
        ]
        return [path for _, path in sorted(quiet)]

    def _wait(self, seen: _Seen) -> float:
        """Seconds a file must stay untouched: `settle` once its writer closed it (an empty
        file is a writer that has not started), else `quiet`."""
        return min(self.settle, self.quiet) if seen.closed and seen.size else self.quiet

    def due_in(self) -> float | None:
        """Seconds until the next file looked at may be ready (0: one is); None: none."""
        now = self.clock()
        waits = [s.since + self._wait(s) - now for s in self._seen.values() if s.size is not None]
        return max(0.0, min(waits)) if waits else None

    def forget(self, path: Path) -> None:
        """Stop tracking `path` (handed on, vanished or refused)."""
        self._seen.pop(path, None)

    def paths(self) -> list[Path]:
        return list(self._seen)
