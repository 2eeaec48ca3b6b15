"""What a line's ink says where the recogniser is unsure of a space: the blank columns between
two characters, measured in x-heights, which `engine.words` weighs when it restores a space the
recogniser dropped (`ink_gaps`: "GREENWAYMARKET" has a clear gap, italic "E gyptian" none).

All on the line as the recogniser sees it (48 px high), with the line's x-height taken from
its letters. The rules that corrected punctuation marks from their ink (comma or full stop,
noise read as a stop, a dropped mark put back) lost on the real development set and are gone
(docs/engine.md, "Corrections").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from engine.ctc import Glyph
from engine.recognize import INK, REC_STEP
from engine.rules import ALL_RULES, Rules

STEP = REC_STEP  # recogniser columns per CTC step
MIN_X_HEIGHT = 10  # px of 48: smaller type has no measurable gaps
MIN_LETTERS = 3  # blobs at least LETTER_HEIGHT of the line high that make its x-height
LETTER_HEIGHT = 0.15


@dataclass(frozen=True)
class LineInk:
    """A line image's x-height (px) and, per column, whether it holds no ink."""

    x_height: float
    blank: np.ndarray

    def widest_gaps(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Per pair of columns low[i]..high[i], the widest run of blank columns between them,
        in x-heights."""
        edges = np.flatnonzero(np.diff(np.r_[0, self.blank.astype(np.int8), 0]))
        starts, stops = edges[::2], edges[1::2]  # blank runs
        if not len(starts) or not len(low):
            return np.zeros(len(low))
        inside = np.minimum(stops, high[:, None]) - np.maximum(starts, low[:, None])
        return inside.clip(0).max(axis=1) / self.x_height


def measure(level: np.ndarray) -> LineInk | None:
    """The ink of a recogniser line image, given its `recognize.ink_level` (48 x W); None when
    it holds no measurable letters (fewer than MIN_LETTERS, or an x-height under
    MIN_X_HEIGHT). The x-height is what most letters sitting on the baseline (the row where
    most letters end) reach: their median height (ascenders and capitals are fewer in prose)."""
    ink = (level > INK).astype(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    tops, heights = stats[1:, cv2.CC_STAT_TOP], stats[1:, cv2.CC_STAT_HEIGHT]
    letters = heights >= LETTER_HEIGHT * level.shape[0]
    if letters.sum() < MIN_LETTERS:
        return None
    bottoms, heights = (tops + heights - 1)[letters], heights[letters]
    base = _baseline(bottoms)
    x_height = float(np.median(heights[np.abs(bottoms - base) <= 1]))
    if x_height < MIN_X_HEIGHT:
        return None
    return LineInk(x_height, np.asarray(ink.max(axis=0) == 0))


def _baseline(bottoms: np.ndarray) -> float:
    """The row (within one pixel) where most of these letter bottoms lie (the first such)."""
    low = int(bottoms.min())
    counts = np.bincount(bottoms.astype(np.int64) - low)
    near = np.convolve(np.r_[0, counts, 0], np.ones(3, np.int64), mode="valid")
    return float(low + int(np.argmax(near)))


def checked(glyphs: Sequence[Glyph], level: np.ndarray, rules: Rules = ALL_RULES) -> list[Glyph]:
    """`glyphs` of a line with each one's `gap` (`ink_gaps`): the widest blank run between it
    and the glyph before it (spaces aside), when the line's ink (`recognize.ink_level`) can be
    measured."""
    ink = measure(level) if "ink_gaps" in rules else None
    if ink is None:
        return list(glyphs)
    chars = [i for i, g in enumerate(glyphs) if not g.char.isspace()]
    centers = np.array([glyphs[i].center * STEP for i in chars])
    gaps = ink.widest_gaps(centers[:-1], centers[1:])
    out = list(glyphs)
    for i, gap in zip(chars[1:], gaps, strict=True):
        out[i] = replace(out[i], gap=float(gap))
    return out
