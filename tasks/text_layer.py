"""The invisible text layer of OCR pages: written into pages made here from an image file, or
as one text-only page per OCR page to lay over a PDF's own page.

Each word is drawn in the glyphless font (tasks.glyphless) in render mode 3 (invisible) over its
own box: stretched (Tz) to the box's width, one em as high as its line, or as its own box on a
tilted line. Spaces are drawn as stretched characters between words, so copied text has them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

import pymupdf

from core.values import Line, Page, Word
from tasks import glyphless

# A line whose box is this much taller than its tallest word rises or falls across the page
# (a skewed scan): its words are drawn each in its own box rather than on one baseline, so
# selecting them does not reach into the lines above and below.
TILTED = 1.2
_FONT = "F0"
_SLACK = 0.1  # points a word may start from where the text position stands


def overlay(targets: Sequence[pymupdf.Page], pages: Sequence[Page]) -> pymupdf.Document:
    """Page i: the text of pages[i], sized like targets[i]'s unrotated crop box, to lay over
    targets[i] (a page of a PDF as it came: its resources and content are not ours to edit)."""
    doc = pymupdf.open()
    font = glyphless.add_font(doc)
    for target, page in zip(targets, pages, strict=True):
        sheet = doc.new_page(width=target.cropbox.width, height=target.cropbox.height)
        doc.xref_set_key(sheet.xref, "Resources", f"<</Font<</{_FONT} {font} 0 R>>>>")
        _append(doc, sheet.xref, _content(page, _frame(target, page)))
    return doc


def write_into(targets: Sequence[pymupdf.Page], pages: Sequence[Page]) -> None:
    """Add the text of pages[i] to targets[i], pages this program made (one image each, their
    own resources, balanced content): no overlay wrapping, a smaller PDF."""
    if not targets:
        return
    doc = targets[0].parent
    font = glyphless.add_font(doc)
    for target, page in zip(targets, pages, strict=True):
        kind, value = doc.xref_get_key(target.xref, "Resources")
        holder, key = (
            (int(value.split()[0]), "Font") if kind == "xref" else (target.xref, "Resources/Font")
        )
        doc.xref_set_key(holder, key, f"<</{_FONT} {font} 0 R>>")
        _append(doc, target.xref, _content(page, _frame(target, page)))


def _append(doc: pymupdf.Document, page_xref: int, content: str) -> None:
    """Add `content` as the last content stream of the page at `page_xref`."""
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, content.encode())
    kind, value = doc.xref_get_key(page_xref, "Contents")
    before = value.strip("[]") if kind in ("xref", "array") else ""
    doc.xref_set_key(page_xref, "Contents", f"[{before} {xref} 0 R]")


def _frame(target: pymupdf.Page, page: Page) -> pymupdf.Matrix:
    """Matrix from the OCR frame (displayed page, y up) to the target's unrotated crop box."""
    shown = target.rect
    return (
        pymupdf.Matrix(1, 0, 0, -1, 0, page.height)
        * pymupdf.Matrix(shown.width / page.width, shown.height / page.height)
        * target.derotation_matrix
        * pymupdf.Matrix(1, 0, 0, -1, 0, target.cropbox.height)
    )


def _content(page: Page, frame: pymupdf.Matrix) -> str:
    """The page's content stream: every word invisible (3 Tr) in the OCR frame, y up."""
    writer = _Writer(page.height)
    for line in page.lines:
        for run in _runs(line):
            writer.word(run)
    matrix = " ".join(_num(v, 4) for v in (frame.a, frame.b, frame.c, frame.d, frame.e, frame.f))
    return f"q {matrix} cm BT 3 Tr\n{writer.text()}\nET Q"


class _Writer:
    """Text operators, kept short: they are a share of a compressed scan's size.

    A word and the space after it are one TJ whose space ends where the next word starts, so a
    level line needs one move (Td) and each word only its stretch (Tz); the size (Tf) is set
    when it changes. Numbers are rounded, and the text position is followed as rounded, so
    nothing drifts along a line.
    """

    def __init__(self, height: float) -> None:
        self.height = height  # flips y upwards
        self.ops: list[str] = []
        self.size = 0.0
        self.origin = (0.0, 0.0)  # where the last Td left the line start
        self.cursor: tuple[float, float] | None = None  # the text position, when known

    def word(self, run: _Run) -> None:
        if run.size != self.size:
            self.size = float(_num(run.size, 2))
            self.ops.append(f"/{_FONT} {_num(self.size, 2)} Tf")
        x, y = self._move_to(run.x0, self.height - run.bottom + glyphless.DESCENT * self.size)
        em = glyphless.ADVANCE * self.size  # one glyph's advance, unstretched
        stretch = float(_num(100 * max(run.x1 - x, 0.01) / (em * len(run.chars)))) / 100
        self.ops.append(f"{_num(100 * stretch)} Tz")
        text = glyphless.encode(run.chars)
        if run.next_x0 is None:
            self.ops.append(f"{text} Tj")
            self.cursor = None
            return
        # TJ moves back by n/1000 of a stretched em, then the space ends at next_x0
        drawn = em * (len(run.chars) + 1) * stretch
        back = _num(1000 * (x + drawn - run.next_x0) / (self.size * stretch), 0)
        self.ops.append(f"[{text} {back} {glyphless.encode(' ')}] TJ")
        self.cursor = (x + drawn - float(back) * self.size * stretch / 1000, y)

    def _move_to(self, x: float, y: float) -> tuple[float, float]:
        """Where the text position stands once at (x, y), with a Td unless it is there."""
        if self.cursor and abs(self.cursor[0] - x) <= _SLACK and abs(self.cursor[1] - y) <= _SLACK:
            return self.cursor
        dx, dy = _num(x - self.origin[0]), _num(y - self.origin[1])
        self.ops.append(f"{dx} {dy} Td")
        self.origin = self.cursor = (self.origin[0] + float(dx), self.origin[1] + float(dy))
        return self.cursor

    def text(self) -> str:
        return "\n".join(self.ops)


def _num(value: float, decimals: int = 1) -> str:
    """A PDF number, one decimal by default (a tenth of a point: a third of a pixel at 300 dpi)."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    return "0" if text in ("-0", "") else text


class _Run(NamedTuple):
    """One word to draw: its text over x0..x1, its em box's bottom (y down) and height, and
    where the space after it ends (the next word's start), if a word follows on the line."""

    chars: str
    x0: float
    x1: float
    bottom: float
    size: float
    next_x0: float | None


def _runs(line: Line) -> list[_Run]:
    """The line's words to draw. A level line's words share its baseline and height, so it
    extracts as one line; a tilted line's words each fill their own box (see TILTED)."""
    words = [w for w in line.words if w.text.strip()]
    if not words and line.text.strip():  # no word boxes: the line as one word
        words = [Word(line.text, line.confidence, line.box)]
    tilted = _tilted(line, words)
    runs = []
    for word, after in zip(words, [*words[1:], None], strict=True):
        x0, y0, x1, y1 = (
            word.box if tilted else (word.box[0], *line.box[1:2], word.box[2], line.box[3])
        )
        runs.append(
            _Run(
                _visual(word.text),
                x0,
                max(x1, x0 + 0.01),
                y1,
                max(y1 - y0, 1.0),
                None if after is None else after.box[0],
            )
        )
    return runs


def _tilted(line: Line, words: Sequence[Word]) -> bool:
    """True when the line's box is clearly taller than its tallest word (see TILTED)."""
    tallest = max((w.box[3] - w.box[1] for w in words), default=0.0)
    return len(words) > 1 and line.box[3] - line.box[1] > TILTED * tallest


def _visual(text: str) -> str:
    """Characters the font carries (BMP, no controls), right-to-left runs in visual order."""
    chars = "".join(
        " "
        if unicodedata.category(c) == "Cc"
        else "\ufffd"
        if 0xD800 <= ord(c) <= 0xDFFF or ord(c) > 0xFFFD
        else c
        for c in text
    )
    rtl = any(unicodedata.bidirectional(c) in ("R", "AL") for c in chars)
    return chars[::-1] if rtl else chars
