"""The line protocol both bench workers speak: one JSON request a line on stdin, one JSON
reply a line on the original stdout (anything an engine prints goes to stderr).

A worker answers `{"ready", "engine", "load_seconds"}` once loaded, then `{"name", "text",
"seconds"}` for each `{"read": {"name", "path", "dpi"}}`, and `{"peak_rss_mib"}` at the end
of input. `seconds` is the wall time of reading one page from its file, the same for both.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

MIB = 1024 * 1024
Handler = Callable[[dict[str, Any], TextIO], dict[str, Any]]


def replies() -> TextIO:
    """The original stdout, for replies; stdout itself then goes to stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    return out


def send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")


def serve(out: TextIO, engine: dict[str, Any], started: float, handle: Handler) -> int:
    """Say ready, answer each request with `handle`, then the peak RSS at end of input."""
    send(out, {"ready": True, "load_seconds": time.perf_counter() - started, "engine": engine})
    for line in sys.stdin:
        send(out, handle(json.loads(line), out))
    send(out, {"peak_rss_mib": peak_rss_mib()})
    return 0


def rss_mib() -> float:
    """This process's resident set size now (Linux /proc; the peak elsewhere)."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return peak_rss_mib()
    return resident * os.sysconf("SC_PAGE_SIZE") / MIB


def peak_rss_mib() -> float:
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
