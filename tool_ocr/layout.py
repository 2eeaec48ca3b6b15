"""Words and reading order from what the recogniser and detector already know (no Paddle here).

Spaces: PP-OCRv4's Chinese recogniser often drops the spaces between English words ("thepatent")
when type is small or narrow, yet it still gives the space class some probability in the blank
steps between the two words (1e-2..0.5, against 1e-4 inside a word). That probability, how much
further apart the two characters stand than the line's usual pitch (the line's own scale, so any
resolution works) and the characters themselves (a letter after a comma) decide. CJK, kana and
hangul never get a space from us; punctuation sticks to its word.

Reading order: lines top to bottom; where a vertical gutter splits a block into two text
columns, the columns are read one after the other, full-width lines (titles) keeping their place.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tool_ocr.models import Line

_SPACE_LOG10 = -2.0  # split where the recogniser gives a space 1 % between two characters...
_PITCH_WEIGHT = 0.5  # ... less when they stand further apart than the line's usual pitch
_GEOMETRY_ONLY = 0.6  # without space probabilities: split 60 % above the usual pitch
_BONUS = {"after_comma": 1.5, "after_stop": 0.7, "digits": -1.0, "after_apostrophe": -0.7}
_CLOSING = set(".,:;!?)]}%'»”’…")  # attach to the previous word
_OPENING = set("([{«“‘$")  # attach to the next word
_MIN_COLUMN_LINES = 3  # per side: fewer is a small table, read row by row
_MIN_COLUMN_WIDTH = 0.25  # median line width of a column, as a share of the block's width


@dataclass(frozen=True)
class Glyph:
    """One decoded character of a line: its CTC time-step span and probability.

    `space` is the highest probability the recogniser gave to a space in the steps between the
    previous glyph and this one (None when unknown: the gap's width alone then decides).
    """

    char: str
    start: int  # first CTC time step, inclusive
    end: int  # last CTC time step, exclusive
    confidence: float
    space: float | None = None


def ctc_glyphs(probs: np.ndarray, classes: Sequence[str], steps: int | None = None,
               offset: int = 0) -> list[Glyph]:
    """Greedy CTC decoding of one line's [steps, classes] probabilities, with spans.

    `classes[i]` is the text of class i; class 0 is the CTC blank. Only the first `steps` steps
    are read (the rest is batch padding); spans are shifted by `offset` (a window's first step
    in its line). Repeated steps of one class make one glyph, whose confidence is its peak
    probability; `space` is measured when a class is ' '.
    """
    probs = probs[:steps]
    if not len(probs):
        return []
    best, top = probs.argmax(axis=1), probs.max(axis=1)
    bounds = np.flatnonzero(np.diff(best)) + 1
    space_col = list(classes).index(" ") if " " in classes else None
    glyphs: list[Glyph] = []
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(best)], strict=True):
        if best[start] == 0:
            continue
        space = None
        if space_col is not None and glyphs:
            after = glyphs[-1].end - offset
            space = float(probs[after:max(start, after + 1), space_col].max())
        glyphs.append(Glyph(classes[best[start]], int(start) + offset, int(end) + offset,
                            float(top[start:end].max()), space))
    return glyphs


def is_cjk(char: str) -> bool:
    """Han, kana, hangul and CJK punctuation: scripts written without spaces. Full-width ASCII
    forms ('，', '（') are not: they are punctuation, which the recogniser also uses in English."""
    code = ord(char)
    return (0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF
            or 0xFF61 <= code <= 0xFFDC or 0x20000 <= code <= 0x3FFFF)


def _plain(char: str) -> str:
    """ASCII for a full-width form ('，' -> ','), else `char`."""
    return chr(ord(char) - 0xFEE0) if 0xFF01 <= ord(char) <= 0xFF5E else char


def group_words(glyphs: Sequence[Glyph]) -> list[tuple[str, int, int, float]]:
    """Words of one line (text, first step, end step, confidence), spaces restored.

    A word's confidence is the lowest of its characters': a word is only as right as its least
    certain character, and a mean would hide one doubtful letter in a long word. The line's text
    is the words joined by single spaces (a CJK run is one word: no space is ever put in it).
    """
    glue, pitch = _glue(glyphs), _usual_pitch(glyphs)
    words: list[list[Glyph]] = [[]]
    for i, glyph in enumerate(glyphs):
        if glyph.char.isspace():
            words.append([])
            continue
        if words[-1] and not glue[i] and _is_space(words[-1][-1], glyph, pitch):
            words.append([])
        words[-1].append(glyph)
    return [("".join(g.char for g in word), word[0].start, word[-1].end,
             min(g.confidence for g in word)) for word in words if word]


def _glue(glyphs: Sequence[Glyph]) -> list[bool]:
    """glue[i]: glyph i never starts a word unless the decoder put a space before it: it is
    CJK or closing punctuation, or the glyph before it is CJK or opens ('(', an opening '"').
    Full-width punctuation after CJK counts as CJK."""
    glue = [False] * (len(glyphs) + 1)
    quotes, cjk = 0, False
    for i, glyph in enumerate(glyphs):
        char = _plain(glyph.char)
        cjk = is_cjk(char) or (cjk and char != glyph.char)
        quotes += char == '"'
        closes = char in _CLOSING or (char == '"' and quotes % 2 == 0)
        opens = char in _OPENING or (char == '"' and quotes % 2 == 1)
        glue[i] |= closes or cjk
        glue[i + 1] |= opens or cjk
    return glue[:-1]


def _center(glyph: Glyph) -> float:
    return (glyph.start + glyph.end) / 2


def _usual_pitch(glyphs: Sequence[Glyph]) -> float:
    """Median distance, in steps, between adjacent characters' centres on this line."""
    pitches = [_center(b) - _center(a) for a, b in itertools.pairwise(glyphs)
               if not (a.char.isspace() or b.char.isspace())]
    return max(statistics.median(pitches), 1e-6) if pitches else 1.0


def _is_space(left: Glyph, right: Glyph, pitch: float) -> bool:
    """True when a space was dropped between two adjacent characters (`pitch`: the line's)."""
    excess = (_center(right) - _center(left)) / pitch - 1
    if right.space is None:
        return excess > _GEOMETRY_ONLY
    evidence = math.log10(max(right.space, 1e-6)) + _PITCH_WEIGHT * excess
    return evidence + _bonus(_plain(left.char), _plain(right.char)) > _SPACE_LOG10


def _bonus(left: str, right: str) -> float:
    """Evidence for a space from the characters themselves, in decades of probability."""
    if left in ",;" and right.isalpha():
        return _BONUS["after_comma"]
    if left in ":." and right.isupper() or left == ":" and right.isdigit():
        return _BONUS["after_stop"]
    if left.isdigit() and right.isdigit():
        return _BONUS["digits"]
    if left == "'" and right.isalpha():
        return _BONUS["after_apostrophe"]
    return 0.0


def reading_order(lines: Sequence[Line]) -> list[Line]:
    """Lines in reading order: columns left to right, each top to bottom; rows otherwise."""
    return _order(list(lines))


def _order(lines: list[Line]) -> list[Line]:
    """Columns first (recursively); full-width lines cut the columns into bands, in place."""
    split = _columns(lines)
    if split is None:
        return _by_rows(lines)
    left, right, spanning = _settle(*split)
    bars = sorted(spanning, key=_center_y)
    edges = [_center_y(bar) for bar in bars]
    out: list[Line] = []
    for band in range(len(bars) + 1):
        for side in (left, right):
            out += _order([ln for ln in side if bisect.bisect(edges, _center_y(ln)) == band])
        out += bars[band:band + 1]
    return out


def _center_y(line: Line) -> float:
    return (line.box[1] + line.box[3]) / 2


def _height(line: Line) -> float:
    return line.box[3] - line.box[1]


def _by_rows(lines: list[Line]) -> list[Line]:
    """Top to bottom; lines side by side on one row (receipt label and amount) left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=_center_y):
        row = next((row for row in rows[-3:] if _joins(line, row)), None)
        if row is None:
            rows.append([line])
        else:
            row.append(line)
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


def _joins(line: Line, row: list[Line]) -> bool:
    """Beside every line of `row` (no horizontal overlap) and level with one of them."""
    beside = all(line.box[0] >= ln.box[2] or line.box[2] <= ln.box[0] for ln in row)
    return beside and any(
        min(line.box[3], ln.box[3]) - max(line.box[1], ln.box[1])
        >= 0.5 * min(_height(line), _height(ln)) for ln in row)


def _columns(lines: list[Line]) -> tuple[list[Line], list[Line], list[Line]] | None:
    """(left, right, spanning) when a vertical gutter splits `lines` into two text columns.

    Candidate gutters start at a line's right edge and end where the next line to the right
    starts; they must be at least half a line height wide. Lines crossing it are "spanning".
    """
    if len(lines) < 2 * _MIN_COLUMN_LINES:
        return None
    width = max(ln.box[2] for ln in lines) - min(ln.box[0] for ln in lines)
    least_gap = 0.5 * statistics.median(_height(ln) for ln in lines)
    best: tuple[float, float] | None = None
    for cut in sorted({ln.box[2] for ln in lines}):
        start = min((ln.box[0] for ln in lines if ln.box[0] >= cut), default=None)
        if start is None or start - cut < least_gap:
            continue
        mid = (cut + start) / 2
        left, right, _ = _split(lines, mid)
        score = _column_score(left, right, width)
        if score is not None and (best is None or score > best[0]):
            best = (score, mid)
    return None if best is None else _split(lines, best[1])


def _settle(left: list[Line], right: list[Line],
            spanning: list[Line]) -> tuple[list[Line], list[Line], list[Line]]:
    """A line crossing the gutter is a title or rule only if it reaches well into both
    columns; one that merely overhangs it (a wide detection box) belongs to the side holding
    most of it, or it would cut both columns into bands and interleave them."""
    gutter = (max(ln.box[2] for ln in left) + min(ln.box[0] for ln in right)) / 2
    reach = [0.5 * statistics.median(ln.box[2] - ln.box[0] for ln in side)
             for side in (left, right)]
    bars = []
    for line in spanning:
        into_left, into_right = gutter - line.box[0], line.box[2] - gutter
        if into_left >= reach[0] and into_right >= reach[1]:
            bars.append(line)
        else:
            (left if into_left > into_right else right).append(line)
    return left, right, bars


def _split(lines: list[Line], x: float) -> tuple[list[Line], list[Line], list[Line]]:
    """(left of x, right of x, crossing x)."""
    return ([ln for ln in lines if ln.box[2] <= x], [ln for ln in lines if ln.box[0] >= x],
            [ln for ln in lines if ln.box[0] < x < ln.box[2]])


def _column_score(left: list[Line], right: list[Line], width: float) -> float | None:
    """How much two sides look like text columns, or None when they do not: each side holds
    3+ lines (not a two-row table) of median width a quarter of the block or more (not a
    receipt's labels and amounts)."""
    if min(len(left), len(right)) < _MIN_COLUMN_LINES:
        return None
    widths = [statistics.median(ln.box[2] - ln.box[0] for ln in side) for side in (left, right)]
    if min(widths) < _MIN_COLUMN_WIDTH * width:
        return None
    return min(len(left), len(right))
