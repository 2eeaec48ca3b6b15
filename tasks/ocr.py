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

from core.settings import Settings
from core.values import EngineInfo, Line, Page, Source, Word
from engine import EngineConfig, OcrEngine, engine_info, get_engine
from tasks.files import pil_errors
from tasks.tracking import step

log = logging.getLogger(__name__)


def engine_config(settings: Settings) -> EngineConfig:
    """The engine identity for these settings (one loaded engine per config and process)."""
    return EngineConfig(
        models=settings.ocr_models,
        lang=settings.ocr_lang,
        threads=settings.ocr_threads,
        weights=settings.ocr_weights,
    )


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
    """The page with its OCR lines (boxes in points) and the seconds it took.

    A page the engine had to turn to read (scanned sideways or upside down) comes back upright:
    its raster is saved turned, beside the original, and its size follows, so the searchable
    PDF shows the page the way its text layer reads.
    """
    if page.image_path is None or page.dpi is None:
        raise ValueError(f"page {page.number} has no raster to OCR")
    started, dpi = time.perf_counter(), page.dpi
    raster = load_raster(page.image_path)
    reading = engine.read(raster)
    if reading.rotation:
        page = upright(page, raster, reading.rotation, dpi)
    scale = 72.0 / dpi  # the engine's reading order holds at any scale
    lines = tuple(scale_line(line, scale) for line in reading.lines)
    return dataclasses.replace(page, lines=lines, seconds=time.perf_counter() - started)


def upright(page: Page, raster: np.ndarray, rotation: int, dpi: float) -> Page:
    """`page` with its raster turned `rotation` degrees counter-clockwise (a new file, so a
    retried task still starts from the scan as rendered)."""
    assert page.image_path is not None
    path = page.image_path.with_name(f"{page.image_path.stem}-upright.png")
    Image.fromarray(np.rot90(raster, rotation // 90)).save(path, dpi=(dpi, dpi))
    log.info("page %s turned %s degrees to read it upright", page.number, rotation)
    width, height = (page.height, page.width) if rotation % 180 else (page.width, page.height)
    return dataclasses.replace(page, image_path=path, width=width, height=height, rotation=rotation)


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
