"""Searchable PDF: real rasters and PDFs made here, text read back the way a viewer reads it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfgen import canvas

from core.errors import CorruptFileError, EncryptedPdfError
from core.values import Line, Page, Source, Word
from tasks.pdf import write_searchable_pdf

DPI = 100


def pt(px: float) -> float:
    return px * 72 / DPI


def draw_lines(
    img: Image.Image,
    rows: Sequence[Sequence[str]],
    *,
    left: int = 50,
    top: int = 40,
    gap: int = 80,
    dpi: int = DPI,
    size: int = 40,
) -> tuple[Line, ...]:
    """Draw `rows` of words with Pillow; return Lines whose word boxes are where they landed."""
    draw, font, scale = ImageDraw.Draw(img), ImageFont.load_default(size=size), 72 / dpi
    lines = []
    for i, row in enumerate(rows):
        x, y, words = float(left), top + i * gap, []
        for text in row:
            x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
            draw.text((x, y), text, font=font, fill=0)
            words.append(Word(text, 0.9, (x0 * scale, y0 * scale, x1 * scale, y1 * scale)))
            x = x1 + draw.textlength(" ", font=font)
        box = (
            min(w.box[0] for w in words),
            min(w.box[1] for w in words),
            max(w.box[2] for w in words),
            max(w.box[3] for w in words),
        )
        lines.append(Line(" ".join(row), 0.9, box, tuple(words)))
    return tuple(lines)


def page_of(
    img: Image.Image, lines: tuple[Line, ...], number: int = 1, raster: Path | None = None
) -> Page:
    return Page(
        number, pt(img.width), pt(img.height), "ocr", image_path=raster, dpi=DPI, lines=lines
    )


def source_of(path: Path, kind: str, pages: int = 1) -> Source:
    data = path.read_bytes()
    return Source(path, path.name, hashlib.sha256(data).hexdigest(), kind, len(data), pages)


def image_source(tmp_path: Path, img: Image.Image, lines: tuple[Line, ...]):
    raster = tmp_path / "page-0001.png"
    img.save(raster, dpi=(DPI, DPI))
    return source_of(raster, "png"), [page_of(img, lines, raster=raster)]


def shown_words(page: pymupdf.Page) -> list[tuple[str, pymupdf.Rect]]:
    """Words as a viewer extracts them, boxes turned into displayed-page coordinates."""
    return [(w[4], pymupdf.Rect(w[:4]) * page.rotation_matrix) for w in page.get_text("words")]


def assert_words_at(page: pymupdf.Page, lines: Sequence[Line]) -> None:
    """Every OCR word extracts, in order, spanning its box; its centre inside the box."""
    expected = [w for line in lines for w in line.words]
    got = shown_words(page)
    assert [text for text, _ in got] == [w.text for w in expected]
    for (_, rect), word in zip(got, expected, strict=True):
        x0, y0, x1, y1 = word.box
        assert rect.x0 == pytest.approx(x0, abs=0.5) and rect.x1 == pytest.approx(x1, abs=0.5)
        assert y0 - 1 <= (rect.y0 + rect.y1) / 2 <= y1 + 1


def gray(pix: pymupdf.Pixmap) -> np.ndarray:
    return np.asarray(
        Image.frombytes("RGB", (pix.width, pix.height), pix.samples).convert("L"), dtype=np.int16
    )


def scanned_pdf(path: Path, shown: Image.Image, *, rotation: int = 0, margin: int = 0) -> Path:
    """A scanner-style PDF (one JPEG per page) that displays as `shown` once /Rotate applies."""
    stored = shown.rotate(rotation, expand=True)  # /Rotate turns it back clockwise on display
    jpeg = path.with_suffix(".jpg")
    stored.save(jpeg, quality=95)
    w, h = pt(stored.width) + 2 * margin, pt(stored.height) + 2 * margin
    c = canvas.Canvas(str(path.with_suffix(".tmp.pdf")), pagesize=(w, h))
    c.drawImage(str(jpeg), margin, margin, pt(stored.width), pt(stored.height))
    c.showPage()
    c.save()
    with pymupdf.open(path.with_suffix(".tmp.pdf")) as doc:
        if margin:
            doc[0].set_cropbox(pymupdf.Rect(margin, margin, w - margin, h - margin))
        doc[0].set_rotation(rotation)
        doc.save(path)
    return path


def test_image_page_gets_invisible_words_at_their_boxes(tmp_path: Path) -> None:
    img = Image.new("L", (900, 400), 255)
    lines = draw_lines(img, [["Invoice", "number", "4711"], ["Total:", "12.50", "EUR"]])
    source, pages = image_source(tmp_path, img, lines)
    out = write_searchable_pdf(source, pages, tmp_path / "out.pdf")
    with pymupdf.open(out) as doc:
        page = doc[0]
        assert (page.rect.width, page.rect.height) == pytest.approx((pt(900), pt(400)))
        assert page.get_text() == "Invoice number 4711\nTotal: 12.50 EUR\n"
        assert_words_at(page, lines)
        spans = page.get_texttrace()
        assert spans and {span["type"] for span in spans} == {3}  # 3: invisible
        shown = gray(page.get_pixmap(dpi=DPI))
    assert np.abs(shown - np.asarray(img, dtype=np.int16)).mean() < 1.0


def test_each_image_page_gets_its_own_size_and_words(tmp_path: Path) -> None:
    wide, tall = Image.new("L", (900, 300), 255), Image.new("L", (400, 700), 255)
    rows = [draw_lines(wide, [["first", "page"]]), draw_lines(tall, [["second"], ["page"]])]
    pages = []
    for number, (img, lines) in enumerate(zip([wide, tall], rows, strict=True), start=1):
        img.save(tmp_path / f"page-{number}.png")
        pages.append(page_of(img, lines, number, tmp_path / f"page-{number}.png"))
    source = source_of(tmp_path / "page-1.png", "tiff", 2)
    with pymupdf.open(write_searchable_pdf(source, pages, tmp_path / "out.pdf")) as doc:
        assert [(p.rect.width, p.rect.height) for p in doc] == [(648, 216), (288, 504)]
        for page, lines in zip(doc, rows, strict=True):
            assert_words_at(page, lines)


def test_accented_cjk_cyrillic_and_arabic_words_round_trip(tmp_path: Path) -> None:
    img = Image.new("L", (900, 420), 255)
    lines = draw_lines(img, [["Café", "déjà", "vu"], ["中文测试", "Привет"], ["مرحبا"]])
    source, pages = image_source(tmp_path, img, lines)
    with pymupdf.open(write_searchable_pdf(source, pages, tmp_path / "out.pdf")) as doc:
        assert_words_at(doc[0], lines)
        assert "Café déjà vu\n中文测试 Привет\nمرحبا" in doc[0].get_text()


def test_line_without_word_boxes_extracts_its_words_inside_the_line(tmp_path: Path) -> None:
    img = Image.new("L", (900, 200), 255)
    (drawn,) = draw_lines(img, [["no", "word", "boxes", "here"]])
    line = Line(drawn.text, 0.8, drawn.box)
    source, pages = image_source(tmp_path, img, (line,))
    with pymupdf.open(write_searchable_pdf(source, pages, tmp_path / "out.pdf")) as doc:
        got = shown_words(doc[0])
    assert [text for text, _ in got] == ["no", "word", "boxes", "here"]
    x0, y0, x1, y1 = line.box
    assert (got[0][1].x0, got[-1][1].x1) == pytest.approx((x0, x1), abs=0.5)
    assert all(y0 - 0.5 <= r.y0 and r.y1 <= y1 + 0.5 for _, r in got)


@pytest.mark.parametrize("mode", ["L", "1", "RGB"])
def test_raster_is_stored_compactly(tmp_path: Path, mode: str) -> None:
    """300-dpi A4: gray stays lossless, bilevel goes in as G4, colour as JPEG; none balloons."""
    img = Image.new("L", (2480, 3508), 255)
    lines = draw_lines(img, [["The", "quick", "brown", "fox"]] * 40, gap=80, top=100)
    if mode == "1":  # a thresholded scan, widened to L by the render step
        img = img.point(lambda v: 255 if v >= 128 else 0)
    else:  # paper with scanner noise: the case where lossless storage costs most
        img = img.convert(mode)
        noise = np.random.default_rng(0).normal(0, 3, (img.height, img.width, len(mode)))
        pixels = np.clip(np.asarray(img).reshape(noise.shape) + noise, 0, 255).astype(np.uint8)
        img = Image.fromarray(pixels.squeeze())
    source, pages = image_source(tmp_path, img, lines)
    out = write_searchable_pdf(source, pages, tmp_path / "out.pdf")
    with pymupdf.open(out) as doc:
        _, _, _, _, bpc, _, _, _, filters, _ = doc[0].get_images(full=True)[0]
        assert len(doc[0].get_text("words")) == 160
    expected = {"L": (8, "FlateDecode"), "1": (1, "CCITTFaxDecode"), "RGB": (8, "DCTDecode")}
    assert (bpc, filters) == expected[mode]
    assert out.stat().st_size < source.size * 1.05 + 20_000


def test_pdf_input_keeps_its_image_stream_and_leaves_text_pages_alone(tmp_path: Path) -> None:
    img = Image.new("L", (850, 500), 255)
    lines = draw_lines(img, [["Scanned", "words"], ["second", "line"]])
    scan = scanned_pdf(tmp_path / "scan.pdf", img)
    with pymupdf.open(scan) as doc:  # page 2: born-digital, with its own text layer
        doc.new_page(width=300, height=200).insert_text((40, 60), "Digital text")
        doc.save(tmp_path / "in.pdf")
    src = tmp_path / "in.pdf"
    with pymupdf.open(src) as doc:
        image_before = doc.xref_stream_raw(doc[0].get_images()[0][0])
        text_page_before = doc[1].read_contents()
    text_page = Page(2, 300, 200, "text", lines=(Line("Digital text", 1.0, (40, 48, 110, 62)),))
    out = write_searchable_pdf(
        source_of(src, "pdf", 2), [page_of(img, lines), text_page], tmp_path / "out.pdf"
    )
    with pymupdf.open(out) as doc:
        assert doc.xref_stream_raw(doc[0].get_images()[0][0]) == image_before
        assert_words_at(doc[0], lines)
        assert doc[1].read_contents() == text_page_before
        assert doc[1].get_xobjects() == [] and doc[1].get_text().split() == ["Digital", "text"]


@pytest.mark.parametrize("margin", [0, 30], ids=["no-crop", "cropped"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_pdf_page_words_extract_where_they_are_shown(
    tmp_path: Path, rotation: int, margin: int
) -> None:
    shown = Image.new("L", (700, 300), 255)
    lines = draw_lines(shown, [["Rotated", "scan"], ["left", "to", "right"]])
    scan = scanned_pdf(tmp_path / "scan.pdf", shown, rotation=rotation, margin=margin)
    with pymupdf.open(scan) as doc:  # the fixture really displays as `shown`
        diff = np.abs(gray(doc[0].get_pixmap(dpi=DPI)) - np.asarray(shown, dtype=np.int16))
        assert doc[0].rotation == rotation and diff.mean() < 2
    out = write_searchable_pdf(
        source_of(scan, "pdf"), [page_of(shown, lines)], tmp_path / "out.pdf"
    )
    with pymupdf.open(out) as doc:
        assert doc[0].rotation == rotation
        assert_words_at(doc[0], lines)


def test_damaged_pdf_that_mupdf_repairs_still_gets_its_text(tmp_path: Path) -> None:
    img = Image.new("L", (600, 200), 255)
    lines = draw_lines(img, [["repaired", "file"]])
    scan = scanned_pdf(tmp_path / "scan.pdf", img).read_bytes()
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(scan[: scan.rindex(b"startxref")] + b"startxref\n999999\n%%EOF\n")
    out = write_searchable_pdf(
        source_of(damaged, "pdf"), [page_of(img, lines)], tmp_path / "out.pdf"
    )
    with pymupdf.open(out) as doc:
        assert_words_at(doc[0], lines)


def test_unreadable_pdf_is_corrupt_and_leaves_no_output(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    img = Image.new("L", (600, 200), 255)
    with pytest.raises(CorruptFileError):
        write_searchable_pdf(source_of(bad, "pdf"), [page_of(img, ())], tmp_path / "out.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pdf"]


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    with pymupdf.open() as doc:
        doc.new_page()
        doc.save(locked, encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    with pytest.raises(EncryptedPdfError):
        write_searchable_pdf(source_of(locked, "pdf"), [], tmp_path / "out.pdf")


def test_a_sideways_scanned_pdf_page_comes_out_upright_and_searchable(tmp_path: Path) -> None:
    from engine import EngineConfig, get_engine
    from tasks.ocr import recognize
    from tasks.render import render_pages

    upright = Image.new("L", (1400, 500), 255)
    draw_lines(upright, [["Quarterly", "invoice", "summary"], ["Amount", "due", "today"]])
    scan = scanned_pdf(tmp_path / "sideways.pdf", upright.rotate(90, expand=True))
    source = source_of(scan, "pdf")
    [page] = render_pages(
        source,
        tmp_path / "work",
        dpi=DPI,
        min_dpi=72,
        max_pixels=50_000_000,
        text_layer_min_chars=20,
    )
    page = recognize(page, get_engine(EngineConfig()))
    assert page.rotation in (90, 270) and page.width > page.height
    out = write_searchable_pdf(source, [page], tmp_path / "out.pdf")
    with pymupdf.open(out) as doc:
        shown = doc[0].rect
        assert shown.width > shown.height  # displayed upright, like the text layer
        words = [w.lower() for w, _ in shown_words(doc[0])]
        assert words[:3] == ["quarterly", "invoice", "summary"]
        assert {"amount", "due", "today"} <= set(words)
