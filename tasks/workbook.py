"""The Excel workbook of one document: sheets `document`, `pages`, `lines` and `words`.

Low-confidence lines and words are highlighted by conditional formatting on their confidence
(the low_confidence setting), so the colour follows an edit; the document row says whether a
person should review it (core.values.review). Dates are Excel dates (UTC; Excel has no zones).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.values import EngineInfo, Page, Review, Source, words_of
from tasks.page_text import page_text

_WRAPPED = {"text", "review_reasons"}  # columns shown wrapped, at a capped width
_BOX = ("x0", "y0", "x1", "y1")
_NUMBER_FORMATS = {
    "confidence": "0.000",
    "mean_confidence": "0.000",
    "weakest": "0.000",
    "seconds": "0.00",
    "created": 'yyyy-mm-dd hh:mm:ss "UTC"',
    **dict.fromkeys((*_BOX, "width_pt", "height_pt"), "0.0"),
}
_MAX_WIDTH, _MIN_WIDTH = 60, 8
_MAX_CELL = 32_767  # Excel's limit on characters in a cell
# Excel's own "light red fill with dark red text"
_WEAK = {"fill": PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")}
_WEAK_FONT = Font(color="9C0006")


def write_xlsx(
    source: Source,
    pages: Sequence[Page],
    engine: EngineInfo,
    path: Path,
    *,
    review: Review,
    low_confidence: float,
    created: datetime,
) -> None:
    """Write the workbook to `path`, each sheet with a frozen, filtered header row."""
    sheets = {
        "document": _document_frame(source, pages, engine, review, created),
        "pages": _pages_frame(pages),
        "lines": _lines_frame(pages, low_confidence),
        "words": _words_frame(pages, low_confidence),
    }
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            _format(writer.sheets[name])
        for name in ("lines", "words"):
            _highlight_weak(writer.sheets[name], low_confidence)
        _highlight_review(writer.sheets["document"])


def _document_frame(
    source: Source, pages: Sequence[Page], engine: EngineInfo, review: Review, created: datetime
) -> pd.DataFrame:
    row: dict[str, Any] = {
        "name": _cell(source.name),
        "sha256": source.sha256,
        "kind": source.kind,
        "pages": len(pages),
        "lines": sum(len(page.lines) for page in pages),
        "words": review.words,
        "weak_words": review.weak_words,
        "mean_confidence": review.mean_confidence,
        "weakest": review.weakest,
        "needs_review": review.needed,
        "review_reasons": "; ".join(review.reasons),
        "engine": engine.name,
        "version": engine.version,
        "created": created.astimezone(UTC).replace(tzinfo=None),
    }
    return pd.DataFrame([row])


def _pages_frame(pages: Sequence[Page]) -> pd.DataFrame:
    columns = ["page", "method", "width_pt", "height_pt", "dpi", "lines"]
    columns += ["mean_confidence", "seconds", "text"]
    rows = [
        (p.number, p.method, p.width, p.height, p.dpi, len(p.lines))
        + (p.mean_confidence, p.seconds, _cell(page_text(p)))
        for p in pages
    ]
    return pd.DataFrame(rows, columns=columns)


def _lines_frame(pages: Sequence[Page], low_confidence: float) -> pd.DataFrame:
    columns = ["page", "line", "text", "confidence", "low_confidence", *_BOX]
    rows = [
        (p.number, i, _cell(ln.text), ln.confidence, ln.confidence < low_confidence, *ln.box)
        for p in pages
        for i, ln in enumerate(p.lines, start=1)
    ]
    return pd.DataFrame(rows, columns=columns)


def _words_frame(pages: Sequence[Page], low_confidence: float) -> pd.DataFrame:
    """One row per word; a line without word boxes counts as one word (as in the review)."""
    columns = ["page", "line", "word", "text", "confidence", "low_confidence", *_BOX]
    rows = [
        (p.number, i, j, _cell(w.text), w.confidence, w.confidence < low_confidence, *w.box)
        for p in pages
        for i, ln in enumerate(p.lines, start=1)
        for j, w in enumerate(words_of(ln), start=1)
    ]
    return pd.DataFrame(rows, columns=columns)


def _cell(text: str) -> str:
    """Text Excel accepts: no control characters, at most 32,767 characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _format(ws: Worksheet) -> None:
    """Freeze and filter the header; size columns to content; keep strings as text."""
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for col in ws.iter_cols():
        header = str(col[0].value)
        longest = max(len(str(c.value)) if c.value is not None else 0 for c in col)
        ws.column_dimensions[get_column_letter(col[0].column)].width = min(
            max(longest + 2, _MIN_WIDTH), _MAX_WIDTH
        )
        for cell in col[1:]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # OCR text such as "=1+1" is text, never a formula
            if header in _WRAPPED:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif header in _NUMBER_FORMATS:
                cell.number_format = _NUMBER_FORMATS[header]


def _column(ws: Worksheet, header: str) -> str:
    """The letter of the column headed `header`."""
    return next(get_column_letter(c.column) for c in ws[1] if c.value == header)


def _highlight_weak(ws: Worksheet, low_confidence: float) -> None:
    """Text and confidence cells of rows read below `low_confidence`, in Excel's warning red."""
    if ws.max_row < 2:
        return
    text, confidence = _column(ws, "text"), _column(ws, "confidence")
    rule = FormulaRule(
        formula=[f"AND(ISNUMBER(${confidence}2),${confidence}2<{low_confidence:g})"],
        font=_WEAK_FONT,
        **_WEAK,
    )
    for letter in (text, confidence):
        ws.conditional_formatting.add(f"{letter}2:{letter}{ws.max_row}", rule)


def _highlight_review(ws: Worksheet) -> None:
    """The needs-review cell in warning red when it is TRUE."""
    flag = _column(ws, "needs_review")
    rule = FormulaRule(formula=[f"${flag}2=TRUE"], font=_WEAK_FONT, **_WEAK)
    ws.conditional_formatting.add(f"{flag}2:{flag}{ws.max_row}", rule)
