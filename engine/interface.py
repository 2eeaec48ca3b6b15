"""The engine's interface: what identifies an engine, what it returns, what it offers.

An engine reads one page raster and returns its lines with boxes in *pixels*, and how far it
turned the raster to read it upright; callers convert to page points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from core.values import EngineInfo, Line
from engine.rules import ALL_RULES, Rules

ModelSource = Literal["bundled", "download"]


@dataclass(frozen=True)
class EngineConfig:
    """What identifies a loaded engine; equal configs share one instance per process."""

    models: ModelSource = "bundled"
    lang: str = "en"
    threads: int = 2
    weights: str = "fast"  # a set of `engine.weights.WEIGHTS`, for bundled models
    rules: Rules = ALL_RULES  # the correction rules switched on (`engine.rules`)


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
