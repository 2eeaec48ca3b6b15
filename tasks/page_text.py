"""A page's plain text as it is printed: lines that sit side by side on one row are one line.

The engine gives lines in reading order, each box a line of text it found; a receipt's "Date"
and "25/12/2018 8:39 PM" are two boxes on one printed row. Consecutive lines that overlap
vertically by at least SAME_ROW of the lower one's height, the second to the right of the
first, are joined: by a space, or a tab across a gap wider than TAB_GAP line heights (a label
and its value, columns of a table). Lines of two text columns never follow each other on one
row in reading order, so they are never joined.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.values import Line, Page

SAME_ROW = 0.5  # share of the smaller height the two boxes must share vertically
OVERLAP = 0.25  # heights the second box may start left of the first's end (box padding)
TAB_GAP = 2.0  # heights of blank between them above which a tab, not a space, joins them


def page_text(page: Page) -> str:
    """The page's lines, those on one printed row joined, separated by newlines."""
    return "\n".join(printed_rows(page.lines))


def printed_rows(lines: Sequence[Line]) -> list[str]:
    """The text of each printed row of `lines` (in reading order)."""
    rows: list[str] = []
    before: Line | None = None
    for line in lines:
        if before is not None and rows and same_row(before, line):
            rows[-1] += _separator(before, line) + line.text
        else:
            rows.append(line.text)
        before = line
    return rows


def same_row(left: Line, right: Line) -> bool:
    """True when `right` sits beside `left` on the same printed row, to its right."""
    height = min(_height(left), _height(right))
    shared = min(left.box[3], right.box[3]) - max(left.box[1], right.box[1])
    return shared >= SAME_ROW * height > 0 and right.box[0] >= left.box[2] - OVERLAP * height


def _separator(left: Line, right: Line) -> str:
    gap = right.box[0] - left.box[2]
    return "\t" if gap > TAB_GAP * max(_height(left), _height(right)) else " "


def _height(line: Line) -> float:
    return line.box[3] - line.box[1]
