"""The OCR engine interface: the rest of the code never imports Paddle.

An engine reads one page raster and returns its lines with boxes in *pixels*; callers convert
to page points. `get_engine` loads the model once per process and reuses it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
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
    # Where bundled model dirs are laid out; not part of the identity (same weights anywhere).
    model_root: Path | None = field(default=None, compare=False)


class OcrEngine(Protocol):
    """Reads text lines from one page image (H x W x 3 RGB or H x W gray, uint8)."""

    info: EngineInfo

    def read(self, image: np.ndarray) -> list[Line]:
        """Lines in reading order, boxes in pixel coordinates of `image`."""
        ...


_engines: dict[EngineConfig, OcrEngine] = {}
_lock = threading.Lock()


def get_engine(config: EngineConfig) -> OcrEngine:
    """The process-wide engine for `config`, loaded on first use."""
    with _lock:
        engine = _engines.get(config)
        if engine is None:
            from tool_ocr.paddle import PaddleEngine  # Paddle is imported here only

            engine = _engines[config] = PaddleEngine(config)
        return engine


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs (engine, version, models), without loading it."""
    from tool_ocr.paddle import engine_info as paddle_info

    return paddle_info(config)

