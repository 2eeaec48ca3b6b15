"""Our engine in a process of its own, so its peak memory is measured alone.

`python -m bench.worker` loads the engine the pipeline's settings select (`TOOL_OCR_*`; the
bench's `BENCH_RULES_OFF` switches correction rules off) and speaks `bench.serve`'s protocol:
- `{"read": {"name", "path", "dpi"}}`: the page read the pipeline's way (`tasks.ocr.recognize`
  on a `Page`: `load_raster`, the engine) -> `{"name", "text", "seconds"}`;
- `{"soak": N, "pages": [...]}`: N pages cycling through `pages` -> `{"progress": [page, rss]}`
  every 50 pages, then `{"samples": [...], "every": k}`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from PIL import Image

from bench.serve import replies, rss_mib, send, serve
from core.settings import Settings
from core.values import Page
from engine import OcrEngine, get_engine
from engine.rules import parse
from tasks.ocr import engine_config, recognize


def main() -> int:
    """Serve requests from stdin until it closes."""
    out, started = replies(), time.perf_counter()
    engine = load_engine()
    info = dataclasses.asdict(engine.info) if dataclasses.is_dataclass(engine.info) else {}

    def handle(request: dict[str, Any], out: TextIO) -> dict[str, Any]:
        if "read" in request:
            return read(engine, request["read"])
        pages = [to_page(item) for item in request["pages"]]
        return soak(engine, pages, int(request["soak"]), out)

    return serve(out, info, started, handle)


def load_engine() -> OcrEngine:
    """The engine the pipeline would use with the current TOOL_OCR_* settings, less the rules
    named in BENCH_RULES_OFF."""
    config = engine_config(Settings.load())
    rules = parse(os.environ.get("BENCH_RULES_OFF", ""))
    return get_engine(dataclasses.replace(config, rules=rules))


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
            send(out, {"progress": samples[-1]})
    return {"samples": samples, "every": every}


if __name__ == "__main__":
    sys.exit(main())
