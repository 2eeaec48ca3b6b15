"""Reading order: lines top to bottom; where a vertical gutter splits a block into two text
columns, the columns are read one after the other, full-width lines (titles) keeping their place.
Receipts stay row by row (a label and its amount on one row)."""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence

from core.values import Line

_MIN_COLUMN_LINES = 3  # per side: fewer is a small table, read row by row
_MIN_COLUMN_WIDTH = 0.25  # median line width of a column, as a share of the block's width


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
        out += bars[band : band + 1]
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
        >= 0.5 * min(_height(line), _height(ln))
        for ln in row
    )


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


def _settle(
    left: list[Line], right: list[Line], spanning: list[Line]
) -> tuple[list[Line], list[Line], list[Line]]:
    """A line crossing the gutter is a title or rule only if it reaches well into both
    columns; one that merely overhangs it (a wide detection box) belongs to the side holding
    most of it, or it would cut both columns into bands and interleave them."""
    gutter = (max(ln.box[2] for ln in left) + min(ln.box[0] for ln in right)) / 2
    reach = [
        0.5 * statistics.median(ln.box[2] - ln.box[0] for ln in side) for side in (left, right)
    ]
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
    return (
        [ln for ln in lines if ln.box[2] <= x],
        [ln for ln in lines if ln.box[0] >= x],
        [ln for ln in lines if ln.box[0] < x < ln.box[2]],
    )


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
