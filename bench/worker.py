"""Our engine in a process of its own, so its peak memory is measured alone.

`python -m bench.worker` loads the engine the pipeline's settings select, answers
`{"ready", "engine", "load_seconds"}`, then serves one JSON request per stdin line:
- `{"read": {"name", "path", "dpi"}}`: the page read the pipeline's way (`tasks.ocr.recognize`
  on a `Page`: `load_raster`, the engine) -> `{"name", "text", "seconds"}`;
- `{"soak": N, "pages": [...]}`: N pages cycling through `pages` -> `{"progress": [page, rss]}`
  every 50 pages, then `{"samples": [...], "every": k}`.
On end of input it answers `{"peak_rss_mib"}` and exits. Replies go to the original stdout;
anything the engine prints goes to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from PIL import Image

from core.settings import Settings
from core.values import Page
from engine import OcrEngine, get_engine
from tasks.ocr import engine_config, recognize

MIB = 1024 * 1024


def main() -> int:
    """Serve requests from stdin until it closes."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the engine's own prints must not corrupt the replies
    started = time.perf_counter()
    engine = load_engine()
    info = engine.info
    _send(
        replies,
        {
            "ready": True,
            "load_seconds": time.perf_counter() - started,
            "engine": dataclasses.asdict(info) if dataclasses.is_dataclass(info) else {},
        },
    )
    for line in sys.stdin:
        request = json.loads(line)
        if "read" in request:
            _send(replies, read(engine, request["read"]))
        else:
            pages = [to_page(item) for item in request["pages"]]
            _send(replies, soak(engine, pages, int(request["soak"]), replies))
    _send(replies, {"peak_rss_mib": peak_rss_mib()})
    return 0


def _send(out: TextIO, message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")


def load_engine() -> OcrEngine:
    """The engine the pipeline would use with the current TOOL_OCR_* settings."""
    return get_engine(engine_config(Settings.load()))


def to_page(item: dict[str, Any]) -> Page:
    """A one-page `Page` for the image at item['path'], its size in points from item['dpi']."""
    dpi = float(item["dpi"])
    with Image.open(item["path"]) as img:
        width, height = img.size
    return Page(
        1, width * 72 / dpi, height * 72 / dpi, "ocr", image_path=Path(item["path"]), dpi=dpi
    )


def read(engine: OcrEngine, item: dict[str, Any]) -> dict[str, Any]:
    """One page through the pipeline's OCR step: its text (reading order) and seconds."""
    done = recognize(to_page(item), engine)
    return {"name": item["name"], "text": done.text, "seconds": done.seconds}


def soak(engine: OcrEngine, pages: list[Page], count: int, out: TextIO) -> dict[str, Any]:
    """Read `count` pages with one engine; RSS every 50 pages (every count/5 for short runs)."""
    every = max(1, min(50, count // 5))
    samples: list[tuple[int, float]] = [(0, rss_mib())]
    for i in range(count):
        recognize(pages[i % len(pages)], engine)
        if (i + 1) % every == 0 or i + 1 == count:
            samples.append((i + 1, rss_mib()))
            _send(out, {"progress": samples[-1]})
    return {"samples": samples, "every": every}


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


if __name__ == "__main__":
    sys.exit(main())
