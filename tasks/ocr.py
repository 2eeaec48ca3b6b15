"""Read one page: OCR its raster with the process-wide engine, boxes converted to page points."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from tasks.files import pil_errors
from tasks.tracking import step
from tool_ocr.engine import EngineConfig, OcrEngine, engine_info, get_engine
from tool_ocr.models import EngineInfo, Line, Page, Source, Word
from tool_ocr.settings import Settings

log = logging.getLogger(__name__)


def engine_config(settings: Settings) -> EngineConfig:
    """The engine identity for these settings (one loaded engine per config and process)."""
    return EngineConfig(models=settings.ocr_models, lang=settings.ocr_lang,
                        threads=settings.ocr_threads, model_root=settings.state / "models")


@step("ocr", "ocr page {page.number}", retries=3, retry_delay_seconds=5)
def ocr_page(source: Source, page: Page, settings: Settings) -> Page:
    """OCR one page of `source` with the process-wide engine."""
    page = recognize(page, get_engine(engine_config(settings)))
    log.info("%s: page %s read, %s lines", source.name, page.number, len(page.lines))
    return page


def used_engine(pages: Sequence[Page], settings: Settings) -> EngineInfo:
    """What read these pages: the OCR engine, or PyMuPDF when every page had a text layer."""
    if any(page.method == "ocr" for page in pages):
        return engine_info(engine_config(settings))
    return EngineInfo("text-layer", f"pymupdf {pymupdf.__version__}")


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
    with pil_errors(f"page raster {path.name}"), Image.open(path) as img:
        return np.asarray(img.convert("L" if img.mode in ("1", "L") else "RGB"))


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

