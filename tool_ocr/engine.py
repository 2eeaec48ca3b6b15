"""The OCR engine interface: the rest of the code never imports Paddle.

An engine reads one page raster and returns its lines with boxes in *pixels*, and how far it
turned the raster to read it upright; callers convert to page points. `get_engine` loads the
models once per process and reuses them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from tool_ocr.models import EngineInfo, Line

ModelSource = Literal["bundled", "download"]


@dataclass(frozen=True)
class EngineConfig:
    """What identifies a loaded engine; equal configs share one instance per process."""

    models: ModelSource = "bundled"
    lang: str = "en"
    threads: int = 2


@dataclass(frozen=True)
class Reading:
    """One page read: lines in reading order, boxes in pixels of the *upright* raster.

    `rotation` is how many degrees counter-clockwise the raster was turned to read it upright
    (0, 90, 180 or 270), i.e. `np.rot90(image, rotation // 90)` is the raster the boxes fit.
    """

    lines: list[Line]
    rotation: int = 0


class OcrEngine(Protocol):
    """Reads text lines from one page image (H x W x 3 RGB or H x W gray, uint8)."""

    info: EngineInfo

    def read(self, image: np.ndarray) -> Reading:
        """The page's lines and the rotation that makes it upright."""
        ...


_engines: dict[EngineConfig, OcrEngine] = {}
_lock = threading.Lock()


def get_engine(config: EngineConfig) -> OcrEngine:
    """The process-wide engine for `config`, loaded on first use."""
    with _lock:
        engine = _engines.get(config)
        if engine is None:
            engine = _engines[config] = _load(config)
        return engine


def _load(config: EngineConfig) -> OcrEngine:
    """Paddle is imported here only: the direct engine offline, PaddleOCR's for downloads."""
    if config.models == "bundled":
        from tool_ocr.paddle import PaddleEngine

        return PaddleEngine(config)
    from tool_ocr.pipeline import PaddleOcrPipeline

    return PaddleOcrPipeline(config)


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs (engine, version, models), without loading it."""
    from tool_ocr.paddle import engine_info as paddle_info

    return paddle_info(config)
