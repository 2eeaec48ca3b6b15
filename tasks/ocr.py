"""OCR: every page of a document that needs it, read by the process-wide engine, boxes in points.

One task per document (its retries are the document's): a retry keeps the pages already read.
Progress goes to the log, to a progress artifact for multi-page documents and to
`progress.json` beside the page rasters, where `tool-ocr status` reads it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from core.settings import Settings
from core.values import EngineInfo, Line, Page, Source, Word
from engine import EngineConfig, OcrEngine, engine_info, get_engine
from tasks.artifacts import PageProgress
from tasks.files import pil_errors
from tasks.render import raster_suffix
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


@step("ocr", "ocr {source.name}", retries=3, retry_delay_seconds=5)
def ocr_pages(source: Source, pages: list[Page], settings: Settings) -> list[Page]:
    """Every page of `source`, those needing OCR read with the process-wide engine."""
    engine = get_engine(engine_config(settings))
    inject_file_fault(source, settings.file_faults)
    total, done = sum(page.method == "ocr" for page in pages), 0
    progress = PageProgress(source, total)
    read: list[Page] = []
    for page in pages:
        if page.method == "ocr":
            page = _read_once(source, page, engine)
            done += 1
            log.info("%s: page %d of %d read, %d lines", source.name, done, total, len(page.lines))
            progress.advance()
            _write_progress(source, page, done, total)
        read.append(page)
    _pages_read.pop(source.sha256, None)
    return read


# Pages already read, per document, so a retry after a transient error on page 7 does not
# read pages 1-6 again. Emptied when the task completes (and by `forget_pages`).
_pages_read: dict[str, dict[int, Page]] = {}


def _read_once(source: Source, page: Page, engine: OcrEngine) -> Page:
    cache = _pages_read.setdefault(source.sha256, {})
    if page.number not in cache:
        cache[page.number] = recognize(page, engine)
    return cache[page.number]


def forget_pages(sha256: str) -> None:
    """Drop the pages kept for a retry of this document (its run ended)."""
    _pages_read.pop(sha256, None)


def _write_progress(source: Source, page: Page, done: int, total: int) -> None:
    """progress.json beside the rasters: what `tool-ocr status` shows as in flight."""
    if page.image_path is None:
        return
    body = {"name": source.name, "pages_done": done, "pages_total": total, "at": time.time()}
    target = page.image_path.parent / "progress.json"
    try:
        tmp = target.with_name(".progress.json.tmp")
        tmp.write_text(json.dumps(body), "utf-8")
        os.replace(tmp, target)
    except OSError as exc:  # a courtesy to `status`, never a reason to fail the page
        log.debug("%s: progress not written: %s", source.name, exc)


def inject_file_fault(source: Source, faults: dict[str, str]) -> None:
    """TOOL_OCR_FAULTS 'crash:<glob>' kills this process, 'hang:<glob>' never returns, when
    reading a matching file: what an out-of-memory kill or a hung library does (testing)."""
    for fault, glob in faults.items():
        if fnmatch.fnmatch(source.name, glob) or fnmatch.fnmatch(str(source.path), glob):
            log.warning("%s: injected fault %r", source.name, fault)
            if fault == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            while fault == "hang":
                time.sleep(3600)


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
        page = upright(page, raster, reading.rotation)
    scale = 72.0 / dpi  # the engine's reading order holds at any scale
    lines = tuple(scale_line(line, scale) for line in reading.lines)
    return dataclasses.replace(page, lines=lines, seconds=time.perf_counter() - started)


def upright(page: Page, raster: np.ndarray, rotation: int) -> Page:
    """`page` with its raster turned `rotation` degrees counter-clockwise (a new file, so a
    retried task still starts from the scan as rendered)."""
    assert page.image_path is not None
    turned = Image.fromarray(np.rot90(raster, rotation // 90))
    path = page.image_path.with_name(f"{page.image_path.stem}-upright{raster_suffix(turned.mode)}")
    turned.save(path, format="PPM")
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
