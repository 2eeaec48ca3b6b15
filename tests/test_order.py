"""Reading order from line boxes: columns, titles, receipts' rows (engine/order.py)."""

from __future__ import annotations

import math
import random

from core.values import Line
from engine.order import reading_order


def line(text: str, x0: float, y0: float, x1: float, h: float = 10) -> Line:
    return Line(text=text, confidence=0.9, box=(x0, y0, x1, y0 + h))


def shuffled(lines: list[Line], seed: int = 7) -> list[Line]:
    out = lines[:]
    random.Random(seed).shuffle(out)
    assert out != lines
    return out


def order(lines: list[Line]) -> list[str]:
    return [ln.text for ln in reading_order(shuffled(lines))]


def two_column_page(rows: int = 12, title: bool = True) -> list[Line]:
    """A title across the page, two columns with baselines on one grid, a centred page number."""
    page = [line("title", 60, 40, 540, 16)] if title else []
    for side, (x0, x1) in (("L", (60, 290)), ("R", (310, 540))):
        page += [
            line(f"{side}{i:02}", x0, 80 + 14 * i, x1 - (90 if i % 5 == 4 else 0))
            for i in range(rows)
        ]
    return page + [line("page 1", 285, 780, 315)]


def test_two_columns_read_column_by_column_title_first() -> None:
    page = two_column_page()
    expected = [
        "title",
        *[f"L{i:02}" for i in range(12)],
        *[f"R{i:02}" for i in range(12)],
        "page 1",
    ]
    assert order(page) == expected


def test_two_columns_without_title() -> None:
    got = order(two_column_page(rows=6, title=False))
    assert got == [*[f"L{i:02}" for i in range(6)], *[f"R{i:02}" for i in range(6)], "page 1"]


def test_three_columns_read_left_to_right() -> None:
    lines = [
        line(f"{side}{i}", 40 + 180 * c, 60 + 14 * i, 200 + 180 * c)
        for c, side in enumerate("ABC")
        for i in range(8)
    ]
    assert order(lines) == [f"{side}{i}" for side in "ABC" for i in range(8)]


def test_single_column_reads_top_to_bottom() -> None:
    lines = [line(f"p{i}", 72, 72 + 15 * i, 520 if i % 4 != 3 else 250) for i in range(10)]
    assert order(lines) == [f"p{i}" for i in range(10)]


def test_receipt_reads_row_by_row() -> None:
    lines = [line("SHOP", 90, 20, 150)]
    for i, label in enumerate(["Coffee", "Bagel", "Juice", "Subtotal", "VAT", "Total"]):
        lines += [
            line(label, 20, 50 + 14 * i, 60 + 8 * len(label)),
            line(f"{i}.50", 190, 50 + 14 * i, 225),
        ]
    expected = ["SHOP"]
    for i, label in enumerate(["Coffee", "Bagel", "Juice", "Subtotal", "VAT", "Total"]):
        expected += [label, f"{i}.50"]
    assert order(lines) == expected


def test_a_small_table_inside_prose_reads_row_by_row() -> None:
    lines = [line(f"p{i}", 72, 72 + 15 * i, 520) for i in range(4)]
    lines += [
        line(f"cell{r}{c}", 72 + 240 * c, 140 + 15 * r, 280 + 240 * c)
        for r in range(2)
        for c in range(2)
    ]
    lines += [line(f"q{i}", 72, 180 + 15 * i, 520) for i in range(3)]
    assert order(lines) == [
        *[f"p{i}" for i in range(4)],
        "cell00",
        "cell01",
        "cell10",
        "cell11",
        *[f"q{i}" for i in range(3)],
    ]


def test_slightly_skewed_rows_keep_their_order() -> None:
    skew = math.tan(math.radians(1.5))  # the right end of a row sits lower
    lines = []
    for i in range(8):
        y = 50 + 16 * i
        lines += [
            line(f"label{i}", 20, y, 200, 12 + 180 * skew),
            line(f"amount{i}", 400, y + 400 * skew, 460, 12),
        ]
    expected = [t for i in range(8) for t in (f"label{i}", f"amount{i}")]
    assert order(lines) == expected
    # one column whose tilted line boxes overlap vertically: still top to bottom
    column = [line(f"s{i}", 72 + i, 72 + 14 * i, 520 + i, 10 + 450 * skew) for i in range(10)]
    assert order(column) == [f"s{i}" for i in range(10)]


def test_a_line_overhanging_the_gutter_stays_in_its_column() -> None:
    page = two_column_page(rows=8, title=False)
    right = [ln for ln in page if ln.text.startswith("R")]
    gutter_start = min(ln.box[0] for ln in right)
    wide = right[3]  # its detection box reaches back across most of the gutter
    page[page.index(wide)] = line(
        wide.text, gutter_start - 25, wide.box[1], wide.box[2], wide.box[3] - wide.box[1]
    )
    got = order(shuffled(page))
    assert got == [*[f"L{i:02}" for i in range(8)], *[f"R{i:02}" for i in range(8)], "page 1"]
