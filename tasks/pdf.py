"""Searchable PDF: the page look (original PDF page or raster) plus an invisible text layer.

The text layer is drawn by reportlab in a synthesized glyphless TrueType font (the Tesseract /
OCRmyPDF idea): every BMP character maps to one empty glyph, so any script round-trips through
the ToUnicode map with no system font. Each OCR page becomes one overlay page, stamped onto its
target page with PyMuPDF; original image streams are never decoded or re-encoded.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import struct
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pymupdf
from PIL import Image
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from core.settings import Settings
from core.values import Line, Outputs, Page, Source
from tasks.export import replace_atomically
from tasks.files import open_pdf, pdf_errors, pil_errors
from tasks.render import usable_text
from tasks.tracking import step

log = logging.getLogger(__name__)

_FONT = "ToolOcrGlyphLess"
_ASCENT, _DESCENT, _ADVANCE = 0.8, 0.2, 0.5  # em fractions; ascent + descent == 1 em
_JPEG_QUALITY = 85


@step("pdf", "searchable pdf {source.name}", retries=3, retry_delay_seconds=5)
def searchable_pdf(source: Source, pages: list[Page], settings: Settings) -> Path:
    """The searchable PDF of `source`, in its output folder."""
    return write_searchable_pdf(source, pages, Outputs.for_source(settings.output, source).pdf)


def write_searchable_pdf(source: Source, pages: Sequence[Page], out: Path) -> Path:
    """Write `out`: the document's pages with an invisible text layer on every OCR page."""
    ocr = [p for p in pages if p.method == "ocr" and p.lines]
    with _base_document(source, pages) as doc, pdf_errors(source.name):
        _stamp(doc, ocr, _overlay(doc, ocr))
        with replace_atomically(out) as tmp:
            doc.save(tmp, garbage=3, deflate=True, deflate_images=False, deflate_fonts=True)
    log.debug("%s: searchable PDF with %d text layers written to %s", source.name, len(ocr), out)
    return out


@contextmanager
def _base_document(source: Source, pages: Sequence[Page]) -> Iterator[pymupdf.Document]:
    """The original PDF, or a new one with one page per raster drawn over the whole page."""
    if source.kind == "pdf":
        with open_pdf(source.path) as doc:
            for page in pages:  # a page read upright after turning it is shown upright
                if page.rotation:
                    target = doc[page.number - 1]
                    target.set_rotation((target.rotation - page.rotation) % 360)
            yield doc
        return
    rasters = [(p, p.image_path) for p in pages if p.image_path is not None]
    if len(rasters) != len(pages):
        raise ValueError(f"{source.name}: every page of an image needs its raster")
    with pymupdf.open() as doc, pdf_errors(source.name):
        for page, raster in rasters:
            target = doc.new_page(width=page.width, height=page.height)
            target.insert_image(target.rect, stream=_raster_bytes(raster), keep_proportion=False)
        yield doc


def _raster_bytes(path: Path) -> bytes:
    """A page raster to embed: gray kept lossless (pure black/white as 1 bit), colour as JPEG."""
    with pil_errors(f"page raster {path.name}"), Image.open(path) as img:
        if img.mode == "L" and not any(img.histogram()[1:255]):
            return _encoded(img.convert("1", dither=Image.Dither.NONE), "PNG")
        if img.mode in ("1", "L"):
            return path.read_bytes() if img.format == "PNG" else _encoded(img, "PNG")
        return _encoded(img.convert("RGB"), "JPEG", quality=_JPEG_QUALITY)


def _encoded(img: Image.Image, fmt: str, **options: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def _overlay(doc: pymupdf.Document, pages: Sequence[Page]) -> pymupdf.Document:
    """One text-only page per OCR page, sized like its target's unrotated crop box."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pageCompression=1, invariant=1, initialFontName=_font())
    for page in pages:
        if not 1 <= page.number <= doc.page_count:
            raise ValueError(f"page {page.number} is not in the document ({doc.page_count})")
        target = doc[page.number - 1]
        canvas.setPageSize((target.cropbox.width, target.cropbox.height))
        canvas.transform(*_frame(target, page))
        _draw_text(canvas, _without_existing_text(target, page))
        canvas.showPage()
    canvas.save()
    return pymupdf.open("pdf", buf.getvalue())


def _without_existing_text(target: pymupdf.Page, page: Page) -> Page:
    """`page` minus the OCR lines the target already carries as readable text (a stamp, a
    footer), so extraction does not return them twice. Garbage text does not count."""
    scale = page.width / target.rect.width
    existing = [
        pymupdf.Rect(w[:4]) * target.rotation_matrix * scale
        for w in target.get_text("words")
        if usable_text(w[4], 1)
    ]
    if not existing:
        return page
    return dataclasses.replace(
        page,
        lines=tuple(
            line for line in page.lines if _covered(pymupdf.Rect(line.box), existing) < 0.5
        ),
    )


def _covered(box: pymupdf.Rect, others: list[pymupdf.Rect]) -> float:
    """Share of `box`'s area that `others` cover (overlaps among them counted once each)."""
    area = box.get_area()
    return sum((box & other).get_area() for other in others) / area if area else 1.0


def _frame(target: pymupdf.Page, page: Page) -> tuple[float, ...]:
    """Matrix from the OCR frame (displayed page, y up) to the target's unrotated crop box."""
    shown = target.rect
    m = (
        pymupdf.Matrix(1, 0, 0, -1, 0, page.height)
        * pymupdf.Matrix(shown.width / page.width, shown.height / page.height)
        * target.derotation_matrix
        * pymupdf.Matrix(1, 0, 0, -1, 0, target.cropbox.height)
    )
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _stamp(doc: pymupdf.Document, pages: Sequence[Page], overlay: pymupdf.Document) -> None:
    """Lay overlay page i over the target of pages[i], rotation neutralised while placing."""
    for i, page in enumerate(pages):
        target = doc[page.number - 1]
        rotation = target.rotation
        target.set_rotation(0)
        target.show_pdf_page(target.rect, overlay, i, keep_proportion=False, overlay=True)
        target.set_rotation(rotation)


def _draw_text(canvas: Canvas, page: Page) -> None:
    """Draw every line of `page` in invisible text (render mode 3), in the OCR frame."""
    text = canvas.beginText()
    text.setTextRenderMode(3)
    for line in page.lines:
        x0, y0, x1, y1 = line.box
        size = max(y1 - y0, 1.0)
        text.setFont(_font(), size)
        baseline = page.height - y1 + _DESCENT * size
        for chars, left, right in _runs(line):
            text.setTextOrigin(left, baseline)
            text.setHorizScale(100 * max(right - left, 0.01) / (_ADVANCE * size * len(chars)))
            text.textOut(chars)
    canvas.drawText(text)


def _runs(line: Line) -> list[tuple[str, float, float]]:
    """(text, x0, x1) for each word of the line, a stretched space between neighbours."""
    words = [(w.text, w.box[0], w.box[2]) for w in line.words] or [
        (line.text, line.box[0], line.box[2])
    ]
    shown = [(_visual(text), x0, x1) for text, x0, x1 in words if text.strip()]
    runs: list[tuple[str, float, float]] = []
    for (text, x0, x1), after in zip(shown, [*shown[1:], None], strict=True):
        runs.append((text, x0, x1))
        if after is not None:
            runs.append((" ", x1, max(after[1], x1 + 0.01)))
    return runs


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


@functools.cache
def _font() -> str:
    """Register the glyphless font with reportlab once; return its name."""
    pdfmetrics.registerFont(TTFont(_FONT, io.BytesIO(_glyphless_ttf())))
    return _FONT


def _glyphless_ttf() -> bytes:
    """A minimal TrueType font: U+0020..U+FFFD all map to one empty glyph, 0.5 em wide."""
    em, asc, desc, adv = 1000, int(_ASCENT * 1000), -int(_DESCENT * 1000), int(_ADVANCE * 1000)
    groups = ((0x20, 0xD7FF), (0xE000, 0xFFFD))
    cmap = struct.pack(">HHIII", 13, 0, 16 + 12 * len(groups), 0, len(groups)) + b"".join(
        struct.pack(">III", first, last, 1) for first, last in groups
    )
    tables = {
        b"cmap": struct.pack(">HHHHI", 0, 1, 3, 10, 12) + cmap,
        b"glyf": b"",
        b"head": struct.pack(
            ">IIIIHHqqhhhhHHhhh",
            0x10000,
            0x10000,
            0,
            0x5F0F3CF5,
            0xB,
            em,
            0,
            0,
            0,
            desc,
            adv,
            asc,
            0,
            8,
            2,
            0,
            0,
        ),
        b"hhea": struct.pack(
            ">IhhhH6h4hhH", 0x10000, asc, desc, 0, adv, 0, 0, adv, 1, 0, 0, 0, 0, 0, 0, 0, 2
        ),
        b"hmtx": struct.pack(">HhHh", adv, 0, adv, 0),
        b"loca": struct.pack(">3H", 0, 0, 0),
        b"maxp": struct.pack(">IH13H", 0x10000, 2, *[0] * 13),
        b"name": _name_table(_FONT),
        b"post": struct.pack(">IihhIIIII", 0x30000, 0, -100, 50, 0, 0, 0, 0, 0),
    }
    return _sfnt(tables)


def _name_table(name: str) -> bytes:
    """A 'name' table (Windows, Unicode, US English) with family, style, full and PS names."""
    values = {1: name, 2: "Regular", 3: name, 4: name, 6: name}
    records, pool = b"", b""
    for name_id, value in values.items():
        raw = value.encode("utf-16-be")
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(raw), len(pool))
        pool += raw
    return struct.pack(">3H", 0, len(values), 6 + len(records)) + records + pool


def _sfnt(tables: dict[bytes, bytes]) -> bytes:
    """Assemble tables into a TrueType file (sorted directory, 4-byte aligned, checksums)."""
    count = len(tables)
    shift = count.bit_length() - 1
    header = struct.pack(">IHHHH", 0x10000, count, 16 << shift, shift, 16 * count - (16 << shift))
    directory, body = b"", b""
    for tag, data in sorted(tables.items()):
        padded = data + b"\0" * (-len(data) % 4)
        checksum = sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF
        directory += struct.pack(">4sIII", tag, checksum, 12 + 16 * count + len(body), len(data))
        body += padded
    return header + directory + body
