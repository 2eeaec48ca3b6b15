"""Scans in the searchable PDF as they are: JPEG bytes and G4 strips embedded, no growth."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageFilter
from test_pdf import draw_lines, shown_words

from core.values import Line, Page, Source
from tasks.files import inspect_file
from tasks.pdf import write_searchable_pdf
from tasks.render import render_pages

LIMITS = {"max_bytes": 512 << 20, "max_pages": 50, "max_pixels": 100_000_000}
OPTIONS = {"dpi": 300, "min_dpi": 100, "max_pixels": 100_000_000, "text_layer_min_chars": 20}
LETTER = [
    "Dear",
    "customer,",
    "thank",
    "you",
    "for",
    "your",
    "order",
    "of",
    "the",
    "twelfth",
    "of",
    "March.",
    "We",
    "are",
    "pleased",
    "to",
    "confirm",
    "that",
    "the",
    "goods",
    "listed",
    "below",
    "were",
    "shipped",
    "from",
    "our",
    "warehouse",
    "in",
    "Rotterdam",
    "on",
    "Tuesday",
    "and",
    "should",
    "reach",
    "you",
    "within",
    "five",
    "working",
    "days.",
    "Please",
    "check",
    "the",
    "delivery",
    "against",
    "this",
    "note",
    "and",
    "report",
    "any",
    "damage",
    "or",
    "missing",
    "items",
    "to",
    "our",
    "service",
    "desk",
    "within",
    "fourteen",
    "days,",
    "quoting",
    "reference",
    "4711-2024.",
    "Invoices",
    "are",
    "payable",
    "within",
    "thirty",
    "days",
    "of",
    "receipt;",
    "a",
    "discount",
    "of",
    "two",
    "percent",
    "applies",
    "to",
    "payments",
    "made",
    "within",
    "ten",
    "days.",
    "Our",
    "general",
    "terms",
    "apply",
    "to",
    "all",
    "deliveries.",
]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "robustness" / "pillow"


def letter_page(dpi: int, rows: int) -> tuple[Image.Image, tuple[Line, ...]]:
    """An A4 page of letter text at `dpi` (10 pt type) and the lines drawn, boxes in points."""
    img = Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
    pick = random.Random(rows).choice
    text = [[pick(LETTER) for _ in range(12)] for _ in range(rows)]
    return img, draw_lines(
        img, text, left=dpi // 2, top=dpi // 2, gap=dpi // 4, dpi=dpi, size=dpi // 7
    )


def scanned(img: Image.Image) -> Image.Image:
    """`img` as a scanner sees it: slightly blurred, with sensor noise."""
    noise = np.random.default_rng(0).normal(0, 20, (img.height, img.width))
    blurred = np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)), dtype=float)
    return Image.fromarray(np.clip(blurred + noise, 0, 255).astype(np.uint8))


def searchable(path: Path, out: Path, lines: tuple[Line, ...] = ()) -> tuple[Source, list[Page]]:
    """The pipeline on `path` (ingest, render), the drawn lines as the text read, the PDF."""
    source = inspect_file(path, **LIMITS)
    pages = render_pages(source, out.parent / "work", **OPTIONS)
    pages = [dataclasses.replace(page, lines=lines) for page in pages]
    write_searchable_pdf(source, pages, out)
    return source, pages


def images(page: pymupdf.Page) -> list[tuple[str, bytes]]:
    """(filter, raw stream) of every image the page shows."""
    doc = page.parent
    return [(img[8], doc.xref_stream_raw(img[0])) for img in page.get_images(full=True)]


def shown(page: pymupdf.Page, dpi: int) -> np.ndarray:
    pix = page.get_pixmap(dpi=round(dpi), colorspace=pymupdf.csGRAY)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width).astype(np.int16)


@pytest.mark.parametrize("mode", ["L", "RGB"], ids=["gray", "colour"])
def test_jpeg_goes_in_byte_for_byte(tmp_path: Path, mode: str) -> None:
    img, lines = letter_page(150, 30)
    path = tmp_path / "scan.jpg"
    scanned(img).convert(mode).save(path, quality=85, dpi=(150, 150))
    source, _ = searchable(path, tmp_path / "out.pdf", lines)
    out = tmp_path / "out.pdf"
    with pymupdf.open(out) as doc:
        assert images(doc[0]) == [("DCTDecode", path.read_bytes())]
        assert [w for w, _ in shown_words(doc[0])] == [w.text for ln in lines for w in ln.words]
        with Image.open(path) as jpeg:
            assert np.abs(shown(doc[0], 150) - np.asarray(jpeg.convert("L"))).mean() < 1
    assert out.stat().st_size / source.size <= 1.1


def test_g4_tiff_stays_ccitt_and_does_not_grow(tmp_path: Path) -> None:
    img, lines = letter_page(300, 40)
    path = tmp_path / "fax.tif"
    bilevel = scanned(img).point(lambda v: 255 if v > 140 else 0).convert("1")
    bilevel.save(path, compression="group4", dpi=(300, 300), strip_size=1 << 30)  # one strip
    source, _ = searchable(path, tmp_path / "out.pdf", lines)
    out = tmp_path / "out.pdf"
    with Image.open(path) as tiff:
        (offset,), (count,) = tiff.tag_v2[273], tiff.tag_v2[279]
    with pymupdf.open(out) as doc:
        assert images(doc[0]) == [("CCITTFaxDecode", path.read_bytes()[offset : offset + count])]
        assert (shown(doc[0], 300) == np.asarray(bilevel.convert("L"))).all()
        assert len(shown_words(doc[0])) == sum(len(ln.words) for ln in lines) > 400
    assert out.stat().st_size / source.size <= 1.1


def test_multi_page_g4_in_strips_keeps_every_frame_as_ccitt(tmp_path: Path) -> None:
    frames = [letter_page(200, n)[0].convert("1") for n in (3, 5, 8)]
    path = tmp_path / "fax.tif"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], compression="group4", dpi=(200, 200)
    )
    searchable(path, tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert doc.page_count == 3
        for page, frame in zip(doc, frames, strict=True):
            streams = images(page)
            assert len(streams) > 1 and {f for f, _ in streams} == {"CCITTFaxDecode"}
            assert (shown(page, 200) == np.asarray(frame.convert("L"))).all()


@pytest.mark.parametrize("compression", ["group3", "png"])
def test_other_black_and_white_scans_go_in_as_g4(tmp_path: Path, compression: str) -> None:
    """A G3 fax or a bilevel PNG, which PDF cannot carry as stored: coded G4, the same pixels,
    no larger than the scan (as a PNG raster a G3 fax came out twice its size)."""
    img, lines = letter_page(200, 30)
    bilevel = scanned(img).point(lambda v: 255 if v > 140 else 0).convert("1")
    path = tmp_path / ("fax.tif" if compression == "group3" else "scan.png")
    if compression == "group3":
        bilevel.save(path, compression="group3", dpi=(200, 200))
    else:
        bilevel.save(path, dpi=(200, 200), optimize=True)
    source, _ = searchable(path, tmp_path / "out.pdf", lines)
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert {f for f, _ in images(doc[0])} == {"CCITTFaxDecode"}
        assert (shown(doc[0], 200) == np.asarray(bilevel.convert("L"))).all()
    assert (tmp_path / "out.pdf").stat().st_size / source.size <= 1.1


def test_a_fax_with_oblong_pixels_stays_black_and_white(tmp_path: Path) -> None:
    """204 x 98 dpi (a fax's normal mode): resampled to square pixels, nearest, so still G4."""
    img, _ = letter_page(204, 30)
    fax = scanned(img).point(lambda v: 255 if v > 140 else 0).convert("1")
    fax = fax.resize((fax.width, fax.height * 98 // 204), Image.Resampling.NEAREST)
    path = tmp_path / "fax.tif"
    fax.save(path, compression="group3", dpi=(204, 98))
    searchable(path, tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert {f for f, _ in images(doc[0])} == {"CCITTFaxDecode"}
        assert abs(doc[0].rect.height - 11.69 * 72) < 2  # A4 high, pixels made square
    assert (tmp_path / "out.pdf").stat().st_size / path.stat().st_size <= 1.1


@pytest.mark.parametrize("orientation,turn", [(3, 180), (6, 90), (8, 270)])
def test_exif_turned_jpeg_is_shown_upright_without_re_encoding(
    tmp_path: Path, orientation: int, turn: int
) -> None:
    upright = Image.new("L", (600, 400), 255)
    upright.paste(0, (0, 0, 150, 100))  # a dark block at the top left as the reader sees it
    stored = upright.rotate(turn, expand=True)  # EXIF: turn it `turn` clockwise to show it
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=90, dpi=(100, 100))
    searchable(path, tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert images(doc[0]) == [("DCTDecode", path.read_bytes())]
        assert doc[0].rotation == turn and doc[0].rect == pymupdf.Rect(0, 0, 432, 288)
        assert np.abs(shown(doc[0], 100) - np.asarray(upright)).mean() < 2


def test_a_sideways_jpeg_the_engine_turns_is_shown_upright(tmp_path: Path) -> None:
    from engine import EngineConfig, get_engine
    from tasks.ocr import recognize

    upright = Image.new("L", (1400, 500), 255)
    draw_lines(upright, [["Quarterly", "invoice", "summary"], ["Amount", "due", "today"]])
    path = tmp_path / "sideways.jpg"
    upright.rotate(90, expand=True).save(path, quality=90, dpi=(100, 100))
    source = inspect_file(path, **LIMITS)
    [page] = render_pages(source, tmp_path / "work", **OPTIONS)
    page = recognize(page, get_engine(EngineConfig()))
    assert page.rotation in (90, 270)
    write_searchable_pdf(source, [page], tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert images(doc[0]) == [("DCTDecode", path.read_bytes())]
        assert doc[0].rect.width > doc[0].rect.height  # shown upright, like its text layer
        words = [w.lower() for w, _ in shown_words(doc[0])]
        assert words[:3] == ["quarterly", "invoice", "summary"]
        if page.rotation == 90:  # the engine read it the right way round: pixels match
            assert np.abs(shown(doc[0], 100) - np.asarray(upright)).mean() < 3


def test_cmyk_jpeg_goes_in_as_its_raster(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (300, 200), (255, 0, 0, 0)).save(path, quality=95)  # pure cyan
    searchable(path, tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        assert images(doc[0])[0][1] != path.read_bytes()
        pix = doc[0].get_pixmap(dpi=72)
        assert abs(pix.pixel(100, 100)[0] - 0) < 10 and pix.pixel(100, 100)[1] > 240


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"robustness corpus not found at {CORPUS}")
@pytest.mark.parametrize(
    "name", ["g4-multi.tiff", "g4_orientation_3.tif", "g4_orientation_6.tif", "pport_g4.tif"]
)
def test_real_g4_tiffs_show_what_the_engine_read(tmp_path: Path, name: str) -> None:
    """White-is-zero G4 from other programs, TIFF orientations: as stored, shown as read."""
    path = CORPUS / name
    _, pages = searchable(path, tmp_path / "out.pdf")
    with pymupdf.open(tmp_path / "out.pdf") as doc:
        for page, read in zip(doc, pages, strict=True):
            assert {f for f, _ in images(page)} == {"CCITTFaxDecode"}
            with Image.open(read.image_path) as raster:
                expected = np.asarray(raster.convert("L"), dtype=np.int16)
            got = shown(page, read.dpi or 72)
            assert got.shape == expected.shape and np.abs(got - expected).mean() < 1
