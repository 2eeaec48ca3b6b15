"""Plain text as printed: boxes that sit on one row are one line; columns stay apart."""

from __future__ import annotations

from core.values import Line, Page
from tasks.page_text import page_text, printed_rows


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> Line:
    return Line(text, 0.9, (x0, y0, x1, y1))


def test_a_receipt_row_read_as_two_boxes_is_one_line() -> None:
    rows = printed_rows(
        [
            line("GREENWAY MARKET", 40, 10, 160, 22),
            line("Date", 20, 40, 50, 51),
            line("25/12/2018 8:39 PM", 120, 39, 200, 52),  # far right: a tab between
            line("Total", 20, 60, 50, 71),
            line("12.50", 60, 60, 90, 71),  # near: a space
        ]
    )
    assert rows == ["GREENWAY MARKET", "Date\t25/12/2018 8:39 PM", "Total 12.50"]


def test_lines_of_two_columns_are_never_joined() -> None:
    left = [line(f"left {i}", 20, 20 + 15 * i, 140, 31 + 15 * i) for i in range(3)]
    right = [line(f"right {i}", 160, 20 + 15 * i, 280, 31 + 15 * i) for i in range(3)]
    assert printed_rows(left + right) == [ln.text for ln in left + right]  # column by column


def test_lines_one_above_the_other_or_barely_touching_stay_apart() -> None:
    rows = printed_rows(
        [
            line("first", 20, 10, 80, 22),
            line("second", 100, 19, 160, 31),  # shares 3 of 12 points: the next row
            line("third", 20, 40, 80, 52),
            line("before", 5, 40, 15, 52),  # on the row but to the left: out of order
        ]
    )
    assert rows == ["first", "second", "third", "before"]


def test_page_text_joins_rows_with_newlines() -> None:
    page = Page(
        1, 300, 200, "ocr", lines=(line("Date", 20, 40, 50, 51), line("today", 55, 40, 90, 51))
    )
    assert page_text(page) == "Date today"
    assert page_text(Page(2, 300, 200, "ocr")) == ""
