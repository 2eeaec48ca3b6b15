"""What a line's ink says where the recogniser is unsure: punctuation marks and word gaps.

PP-OCRv4's recogniser reads small marks poorly on small or degraded type: a comma on the
baseline read as a full stop, a semicolon as a colon, and a mark it gives only 5-40 %
dropped for the space after it ("Friday, 14" read "Friday 14"). Their shapes are simple and
their places fixed, so the line image decides: a mark is a small blob on the baseline (a
full stop), one that reaches below it (a comma), or either with a dot above (a colon or a
semicolon). The ink also measures the blank columns between two characters, which
`engine.words` weighs when it restores spaces. All on the line as the recogniser sees it
(48 px high), with the line's baseline and x-height taken from its letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from engine.recognize import INK, REC_STEP, Glyph
from engine.rules import ALL_RULES, Rules

MARKS = ".,:;"
_ASCII = {"．": ".", "，": ",", "：": ":", "；": ";"}  # full-width forms the recogniser also uses
STEP = REC_STEP  # recogniser columns per CTC step
# Below RECONSIDER confidence the ink corrects the recogniser's marks; above it, the ink was
# wrong about as often as the recogniser.
RECONSIDER = 0.97
MIN_EVIDENCE = 0.02  # a dropped mark is put back only if the recogniser gave it this much
MIN_X_HEIGHT = 10  # px of 48: smaller type has no measurable marks
# A comma or a semicolon's tail is taller than wide and reaches below the baseline by this
# share of the x-height or more; a full stop by at most DOT_DROP, and is about round.
TAIL_DROP, DOT_DROP, DOT_ROUND = 0.15, 0.05, 1.3
_REACH = 1  # steps beyond a glyph's span its ink may lie
LOCAL = 4  # x-heights either side of a mark whose letters give its baseline
FAINT = 0.15  # share of the full range from the paper that still counts as a mark's ink


@dataclass(frozen=True)
class Blob:
    """A connected piece of ink of a line image, in its pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def center(self) -> float:
        return self.left + self.width / 2

    @property
    def bottom(self) -> int:
        return self.top + self.height - 1


@dataclass(frozen=True)
class Mark:
    """The ink of a full stop, comma, colon or semicolon: its lowest blob, whether that
    reaches below the baseline (`tail`: None when its shape does not say), and whether a dot
    stands above it."""

    blob: Blob
    tail: bool | None
    dotted: bool

    def char(self) -> str | None:
        if self.tail is None:
            return None
        return (";" if self.tail else ":") if self.dotted else ("," if self.tail else ".")


@dataclass(frozen=True)
class LineInk:
    """A line image's ink: its blobs, the marks among them, its x-height (px) and, per
    column, whether it holds no ink."""

    blobs: list[Blob]
    marks: list[Mark]
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
    """The ink of a recogniser line image, given its `recognize.ink_level` (48 x W); None when it
    holds no measurable letters (fewer than three, or an x-height under MIN_X_HEIGHT).

    The baseline is the row where most letters end (descenders end lower, each its own way),
    taken among the letters within LOCAL x-heights of a mark: a detector box a fraction of a
    degree off the line's slope leaves its baseline a few pixels lower at one end. The
    x-height is what most letters sitting on the baseline reach (their median height:
    ascenders and capitals are fewer in prose). A mark is a small blob on the baseline, not
    one at x-height (an i's dot, a quote) or flat (a hyphen, an underscore)."""
    ink, faint = (level > INK).astype(np.uint8), level > FAINT
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    blobs = [Blob(*(int(v) for v in row[:4])) for row in stats[1:]]
    letters = [b for b in blobs if b.height >= 0.15 * level.shape[0]]
    if len(letters) < 3:
        return None
    centers = np.array([b.center for b in letters])
    bottoms = np.array([b.bottom for b in letters])
    heights = np.array([b.height for b in letters])
    base = _baseline(bottoms)
    x_height = float(np.median(heights[np.abs(bottoms - base) <= 1]))
    if x_height < MIN_X_HEIGHT:
        return None
    small = [b for b in blobs if b.width <= 0.6 * x_height and b.height <= 0.9 * x_height]
    marks = []
    for b in small:
        if b.height < 0.5 * b.width or min(b.width, b.height) < 2:
            continue  # a hyphen, an underscore, a speck
        near = np.abs(centers - b.center) <= LOCAL * x_height
        local = _baseline(bottoms[near]) if near.sum() >= 3 else base
        if b.bottom < local - 0.25 * x_height or b.top < local - 0.65 * x_height:
            continue
        bottom = _reach_down(faint, b)  # a comma's thin tail, faint after blur or JPEG
        drop, height = (bottom - local) / x_height, bottom - b.top + 1
        tail = (
            True
            if drop >= TAIL_DROP and height > b.width
            else (False if drop <= DOT_DROP and height <= DOT_ROUND * b.width else None)
        )
        dotted = any(
            d.bottom < b.top
            and d.top >= local - 1.3 * x_height
            and abs(d.center - b.center) <= max(d.width, b.width)
            for d in small
        )
        marks.append(Mark(b, tail, dotted))
    marks.sort(key=lambda m: m.blob.left)
    return LineInk(blobs, marks, x_height, np.asarray(ink.max(axis=0) == 0))


def _reach_down(faint: np.ndarray, blob: Blob) -> int:
    """The lowest row faint ink reaches below `blob`, row by row within its columns."""
    bottom, columns = blob.bottom, slice(blob.left, blob.left + blob.width)
    while bottom + 1 < len(faint) and faint[bottom + 1, columns].any():
        bottom += 1
    return bottom


def _baseline(bottoms: np.ndarray) -> float:
    """The row (within one pixel) where most of these letter bottoms lie."""
    rows = np.arange(bottoms.min(), bottoms.max() + 1)
    return float(rows[np.argmax([(np.abs(bottoms - r) <= 1).sum() for r in rows])])


def checked(glyphs: Sequence[Glyph], level: np.ndarray, rules: Rules = ALL_RULES) -> list[Glyph]:
    """`glyphs` of a line with their marks as its ink (`recognize.ink_level`) shows them, and each
    glyph's `gap`: the widest blank run between it and the glyph before (spaces aside).

    A mark read with less than RECONSIDER confidence takes the shape of its ink (comma or full
    stop, semicolon or colon: the recogniser does not confuse dots with colons), or goes if it
    has no ink at all (noise read as a full stop); the same ink is read once. A mark the
    recogniser gave at least MIN_EVIDENCE between a letter or digit and the next character,
    but wrote as a blank or a space, is put back when its ink is there."""
    marks = rules & {"mark_shape", "mark_noise", "mark_restore", "ink_gaps"}
    ink = measure(level) if marks else None
    if ink is None:
        return list(glyphs)
    out: list[Glyph] = []
    last = -1  # index in `out` of the last glyph that is not a space
    evidence = 0.0  # the recogniser's best mark probability since then
    used: Mark | None = None  # the mark `out[last]` was read from, if it is one
    for glyph in glyphs:
        evidence = max(evidence, glyph.mark)
        if glyph.char.isspace():
            out.append(glyph)
            continue
        mark = None
        if _doubtful_mark(glyph):
            mark = _mark_under(glyph, ink)
            if (mark is not None and mark is used) or (
                "mark_noise" in rules and _noise(glyph, mark, ink)
            ):
                continue  # the same ink read twice, or a stop read in blank paper
            glyph = _as_its_ink(glyph, mark) if "mark_shape" in rules else glyph
        elif (
            "mark_restore" in rules
            and last >= 0
            and (put := _dropped_mark(out[last], glyph, evidence, ink))
        ):
            out.insert(last + 1, put)
        out.append(glyph)
        last, evidence, used = len(out) - 1, 0.0, mark
    return _with_gaps(out, ink) if "ink_gaps" in rules else out


def _doubtful_mark(glyph: Glyph) -> bool:
    """A full stop, comma, colon or semicolon read with less than RECONSIDER confidence."""
    return _ASCII.get(glyph.char, glyph.char) in MARKS and glyph.confidence < RECONSIDER


def _mark_under(glyph: Glyph, ink: LineInk) -> Mark | None:
    """The mark whose ink lies within the glyph's steps (and _REACH steps around them)."""
    return _nearest(ink.marks, (glyph.start - _REACH) * STEP, (glyph.end + _REACH) * STEP)


def _noise(glyph: Glyph, mark: Mark | None, ink: LineInk) -> bool:
    """No mark near and no ink at all from the glyph's own step on: noise read as a stop."""
    return mark is None and bool(ink.blank[glyph.start * STEP : (glyph.end + _REACH) * STEP].all())


def _as_its_ink(glyph: Glyph, mark: Mark | None) -> Glyph:
    """The doubtful mark as its ink's shape says (a tail: comma or semicolon), if it says."""
    if mark is None or mark.tail is None:
        return glyph
    return replace(glyph, char=_PAIRS[_ASCII.get(glyph.char, glyph.char)][mark.tail])


def _dropped_mark(before: Glyph, glyph: Glyph, evidence: float, ink: LineInk) -> Glyph | None:
    """A mark between two letters or digits that the recogniser gave at least MIN_EVIDENCE
    but wrote as a blank or a space, when a mark's ink lies between them."""
    if not (before.char.isalnum() and glyph.char.isalnum() and evidence >= MIN_EVIDENCE):
        return None
    put = _nearest(ink.marks, before.center * STEP, glyph.center * STEP)
    if put is None or not put.char():
        return None
    step = int(put.blob.center // STEP)
    return Glyph(str(put.char()), step, step + 1, evidence)


def _with_gaps(glyphs: list[Glyph], ink: LineInk) -> list[Glyph]:
    """`glyphs` with `gap` set on each one after the first that is not a space."""
    chars = [i for i, g in enumerate(glyphs) if not g.char.isspace()]
    centers = np.array([glyphs[i].center * STEP for i in chars])
    gaps = ink.widest_gaps(centers[:-1], centers[1:])
    out = list(glyphs)
    for i, gap in zip(chars[1:], gaps, strict=True):
        out[i] = replace(out[i], gap=float(gap))
    return out


_PAIRS = {".": ".,", ",": ".,", ":": ":;", ";": ":;"}  # [without tail, with tail]


def _nearest(marks: list[Mark], low: float, high: float) -> Mark | None:
    """The mark centred between columns low and high, nearest their middle."""
    inside = [m for m in marks if low <= m.blob.center <= high]
    return min(inside, key=lambda m: abs(m.blob.center - (low + high) / 2), default=None)
