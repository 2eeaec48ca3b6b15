"""The invisible text layer follows each word: a skewed scan, read by the real engine, checked
with poppler's pdftotext the way a viewer selects words."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.values import Line, Page, Source, Word
from engine import EngineConfig, get_engine
from tasks.files import inspect_file
from tasks.ocr import recognize
from tasks.pdf import write_searchable_pdf
from tasks.render import render_pages

DPI = 150
ROWS = [
    ["Quarterly", "invoice", "summary", "for", "Northwind", "Traders"],
    ["Amount", "payable", "within", "thirty", "days", "please"],
    ["Reference", "number", "AB12345", "issued", "Monday", "morning"],
]
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<')


def skewed_page(path: Path, degrees: float) -> dict[str, tuple[float, ...]]:
    """Draw ROWS, turn the page `degrees` counter-clockwise, save it; return each printed word's
    box in points: the bounds of its turned em box (ascender to descender, as selected)."""
    font = ImageFont.load_default(size=36)
    ascent, descent = font.getmetrics()
    img = Image.new("L", (1500, 700), 255)
    draw = ImageDraw.Draw(img)
    turn = _turn(degrees, img.width / 2, img.height / 2)
    printed = {}
    for i, row in enumerate(ROWS):
        x, y = 80.0, 120 + i * 150
        for text in row:
            x0, _, x1, _ = draw.textbbox((x, y), text, font=font)
            draw.text((x, y), text, font=font, fill=0)
            corners = [turn(cx, cy) for cx in (x0, x1) for cy in (y, y + ascent + descent)]
            xs, ys = [c[0] * 72 / DPI for c in corners], [c[1] * 72 / DPI for c in corners]
            printed[text] = (min(xs), min(ys), max(xs), max(ys))
            x = x1 + draw.textlength(" ", font=font)
    img.rotate(degrees, Image.Resampling.BICUBIC, fillcolor=255).save(path, dpi=(DPI, DPI))
    return printed


def _turn(degrees: float, cx: float, cy: float):
    """Where Pillow's rotate(degrees) takes a pixel (counter-clockwise about the centre)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return lambda x, y: (cx + (x - cx) * c + (y - cy) * s, cy - (x - cx) * s + (y - cy) * c)


def pdftotext_words(pdf: Path) -> list[tuple[str, tuple[float, ...]]]:
    xhtml = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [(m[5], tuple(float(v) for v in m.groups()[:4])) for m in WORD.finditer(xhtml)]


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")
def test_words_on_a_skewed_page_are_selected_where_they_are_printed(tmp_path: Path) -> None:
    printed = skewed_page(tmp_path / "skewed.png", 2.0)
    source = inspect_file(tmp_path / "skewed.png", max_bytes=1 << 30, max_pages=1, max_pixels=10**8)
    (page,) = render_pages(
        source, tmp_path / "work", dpi=300, min_dpi=100, max_pixels=10**8, text_layer_min_chars=1
    )
    page = recognize(page, get_engine(EngineConfig()))
    out = write_searchable_pdf(source, [page], tmp_path / "out.pdf")
    found = [(text, box) for text, box in pdftotext_words(out) if text in printed]
    assert len(found) >= 0.8 * len(printed)  # the engine may misread a word or two
    for text, (x0, y0, x1, y1) in found:
        px0, py0, px1, py1 = printed[text]
        margin = 2.5  # points: the engine's word boxes sit a pixel or two wide of the ink
        assert px0 - margin <= x0 < x1 <= px1 + margin, text
        assert py0 - margin <= y0 < y1 <= py1 + margin, text


def test_a_level_line_keeps_one_band_and_a_tilted_one_follows_its_words(tmp_path: Path) -> None:
    level = Line(
        "flat band", 0.9, (10, 20, 100, 32), (w("flat", 10, 20, 40, 32), w("band", 50, 22, 100, 30))
    )
    tilted = Line(
        "rising slope text",
        0.9,
        (10, 40, 200, 80),
        (w("rising", 10, 66, 70, 80), w("slope", 80, 53, 130, 67), w("text", 140, 40, 200, 54)),
    )
    raster = tmp_path / "page.png"
    Image.new("L", (300, 120), 255).save(raster, dpi=(72, 72))
    source = Source(raster, raster.name, "0" * 64, "png", raster.stat().st_size, 1)
    page = Page(1, 300, 120, "ocr", image_path=raster, dpi=72.0, lines=(level, tilted))
    with pymupdf.open(write_searchable_pdf(source, [page], tmp_path / "out.pdf")) as doc:
        got = {word[4]: word[:4] for word in doc[0].get_text("words")}
    assert list(got) == ["flat", "band", "rising", "slope", "text"]
    assert got["flat"][1::2] == got["band"][1::2] == pytest.approx((20, 32), abs=0.1)
    for word in tilted.words:
        assert got[word.text] == pytest.approx(word.box, abs=0.1)


def w(text: str, x0: float, y0: float, x1: float, y1: float) -> Word:
    return Word(text, 0.9, (x0, y0, x1, y1))
