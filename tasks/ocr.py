"""Read one page: OCR its raster with the process-wide engine, boxes converted to page points."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.tracking import retry_transient, tracked
from tool_ocr.engine import EngineConfig, OcrEngine, get_engine
from tool_ocr.errors import CorruptFileError
from tool_ocr.models import Line, Page, Source, Word
from tool_ocr.settings import Settings

log = logging.getLogger(__name__)


def engine_config(settings: Settings) -> EngineConfig:
    """The engine identity for these settings (one loaded engine per config and process)."""
    return EngineConfig(models=settings.ocr_models, lang=settings.ocr_lang,
                        threads=settings.ocr_threads, model_root=settings.state / "models")


@task(name="ocr", task_run_name="ocr page {page.number}", retries=3, retry_delay_seconds=5,
      retry_condition_fn=retry_transient, cache_policy=NO_CACHE)
@tracked("ocr")
def ocr_page(source: Source, page: Page, settings: Settings) -> Page:
    """OCR one page of `source` with the process-wide engine."""
    page = recognize(page, get_engine(engine_config(settings)))
    log.info("%s: page %s read, %s lines", source.name, page.number, len(page.lines))
    return page


def recognize(page: Page, engine: OcrEngine) -> Page:
    """The page with its OCR lines (boxes in points) and the seconds it took."""
    if page.image_path is None or page.dpi is None:
        raise ValueError(f"page {page.number} has no raster to OCR")
    started = time.perf_counter()
    lines = engine.read(load_raster(page.image_path))
    scale = 72.0 / page.dpi
    lines = reading_order([scale_line(line, scale) for line in lines])
    return dataclasses.replace(page, lines=tuple(lines), seconds=time.perf_counter() - started)


def load_raster(path: Path) -> np.ndarray:
    """A page raster as an RGB or gray uint8 array."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("L" if img.mode in ("1", "L") else "RGB"))
    except OSError as exc:
        raise CorruptFileError(f"page raster {path.name} is unreadable: {exc}") from exc


def scale_line(line: Line, scale: float) -> Line:
    """`line` with its box and word boxes multiplied by `scale` (pixels to points)."""
    words = tuple(Word(w.text, w.confidence, _scale(w.box, scale)) for w in line.words)
    return Line(line.text, line.confidence, _scale(line.box, scale), words)


def _scale(box: tuple[float, float, float, float], s: float) -> tuple[float, float, float, float]:
    return (box[0] * s, box[1] * s, box[2] * s, box[3] * s)


def reading_order(lines: list[Line]) -> list[Line]:
    """Top to bottom; lines whose vertical centres lie within half a line height: left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.box[1] + ln.box[3]):
        if rows and _same_row(rows[-1][-1], line):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


def _same_row(a: Line, b: Line) -> bool:
    height = min(a.box[3] - a.box[1], b.box[3] - b.box[1])
    return abs((a.box[1] + a.box[3]) - (b.box[1] + b.box[3])) / 2 < height / 2

