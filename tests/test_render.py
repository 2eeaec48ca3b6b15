"""Pages: rasters for OCR and text-layer lines, checked on real files made here and a corpus."""

from __future__ import annotations

import io
import logging
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfgen import canvas

from core.errors import CorruptFileError, RejectedError, TooLargeError
from tasks.dpi import image_dpi
from tasks.files import inspect_file
from tasks.render import fit_dpi, render_pages, usable_text

LIMITS = {"max_bytes": 512 << 20, "max_pages": 2000, "max_pixels": 100_000_000}
OPTIONS = {
    "dpi": 200,
    "min_dpi": 100,
    "max_pixels": 100_000_000,
    "text_layer_min_chars": 20,
}
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "robustness"


def render(path: Path, work: Path, **overrides):
    source = inspect_file(path, **LIMITS)
    return render_pages(source, work, **{**OPTIONS, **overrides})


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def page_with_text(text: str, size=(850, 1100), mode="L") -> Image.Image:
    image = Image.new(mode, size, "white")
    ImageDraw.Draw(image).text((60, 60), text, fill="black", font=ImageFont.load_default(size=48))
    return image


def scanned_pdf(path: Path, pages: int = 1) -> Path:
    doc = pymupdf.open()
    for number in range(pages):
        buffer = io.BytesIO()
        page_with_text(f"Scanned page {number + 1}").save(buffer, format="PNG")
        doc.new_page(width=612, height=792).insert_image(
            pymupdf.Rect(0, 0, 612, 792), stream=buffer.getvalue()
        )
    doc.save(path)
    return path


def text_pdf(path: Path, lines: list[str]) -> Path:
    pdf = canvas.Canvas(str(path), pagesize=(612, 792))
    pdf.setFont("Helvetica", 12)
    for row, line in enumerate(lines):
        pdf.drawString(72, 720 - 20 * row, line)
    pdf.showPage()
    pdf.save()
    return path


# --- images ------------------------------------------------------------------------------


def test_scanned_png_keeps_pixels_and_dpi(tmp_path):
    path = tmp_path / "scan.png"
    page_with_text("Invoice 2024").save(path, dpi=(100, 100))
    (page,) = render(path, tmp_path / "work")
    assert (page.number, page.method, page.dpi) == (1, "ocr", 100)
    assert (page.width, page.height) == pytest.approx((612, 792))
    assert page.image_path == tmp_path / "work" / "page-0001.pgm"
    with Image.open(page.image_path) as raster:
        assert (raster.mode, raster.size) == ("L", (850, 1100))
    assert (pixels(page.image_path) == pixels(path)).all()


def test_exif_rotated_jpeg_is_turned_upright(tmp_path):
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((0, 0, 0), (0, 0, 100, 100))  # dark block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, dpi=(100, 50), quality=95)
    (page,) = render(path, tmp_path / "work")
    raster = pixels(page.image_path)
    assert raster.shape[:2] == (400, 200 * 2)  # rotated, then x stretched 50 -> 100 dpi
    assert raster[:100, -150:].mean() < 40 and raster[-100:, :150].mean() > 215
    assert page.dpi == 100
    assert (page.width, page.height) == pytest.approx((400 * 72 / 100, 400 * 72 / 100))


def test_g4_tiff_pages_are_all_rendered(tmp_path):
    frames = [page_with_text(f"Fax page {n}", size=(1700, 2200)).convert("1") for n in (1, 2, 3)]
    path = tmp_path / "fax.tif"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], compression="group4", dpi=(200, 200)
    )
    pages = render(path, tmp_path / "work")
    assert [p.number for p in pages] == [1, 2, 3]
    for page, frame in zip(pages, frames, strict=True):
        raster = pixels(page.image_path)
        assert raster.dtype == np.uint8 and raster.ndim == 2 and set(np.unique(raster)) == {0, 255}
        assert (raster == np.asarray(frame.convert("L"))).all()
        assert (page.width, page.height, page.dpi) == pytest.approx((612, 792, 200))


def test_fax_with_non_square_pixels_is_resampled(tmp_path):
    path = tmp_path / "fax.tif"
    Image.new("1", (1728, 1100), 1).save(path, compression="group3", dpi=(204, 98))
    (page,) = render(path, tmp_path / "work")
    assert pixels(page.image_path).shape == (round(1100 * 204 / 98), 1728)
    assert page.dpi == 204
    assert (page.width, page.height) == pytest.approx((1728 * 72 / 204, 1100 * 72 / 98), 0.01)


def test_lzw_tiff_colour_is_kept(tmp_path):
    image = page_with_text("Colour", mode="RGB")
    image.paste((200, 30, 30), (400, 400, 600, 500))
    path = tmp_path / "colour.tif"
    image.save(path, compression="tiff_lzw")
    (page,) = render(path, tmp_path / "work")
    assert (pixels(page.image_path) == np.asarray(image)).all()
    assert page.dpi == 100  # no dpi in the file: 850 x 1100 px is Letter at 100 dpi


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (300, 200), (255, 0, 0, 0)).save(path, quality=95)  # pure cyan
    (page,) = render(path, tmp_path / "work")
    raster = pixels(page.image_path)
    assert raster.shape == (200, 300, 3)
    assert np.abs(raster.mean(axis=(0, 1)) - (0, 255, 255)).max() < 10


def test_rgba_png_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 100, 100))
    path = tmp_path / "alpha.png"
    image.save(path)
    (page,) = render(path, tmp_path / "work")
    raster = pixels(page.image_path)
    assert raster.shape == (100, 200, 3)
    assert (raster[:, :100] == (200, 0, 0)).all() and (raster[:, 100:] == 255).all()


def test_palette_pngs_become_l_or_rgb(tmp_path):
    gray = page_with_text("Gray palette").convert("P")
    colour = page_with_text("Colour palette", mode="RGB")
    colour.paste((0, 0, 255), (0, 0, 50, 50))
    gray.save(tmp_path / "gray.png")
    colour.convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "colour.png")
    (gray_page,) = render(tmp_path / "gray.png", tmp_path / "w1")
    (colour_page,) = render(tmp_path / "colour.png", tmp_path / "w2")
    assert pixels(gray_page.image_path).ndim == 2
    assert tuple(pixels(colour_page.image_path)[10, 10]) == (0, 0, 255)


def test_16_bit_gray_is_stretched_to_8_bit(tmp_path):
    values = np.tile(np.linspace(1000, 3000, 256).astype(np.uint16), (64, 1))
    path = tmp_path / "deep.tif"
    Image.fromarray(values).save(path)
    (page,) = render(path, tmp_path / "work")
    raster = pixels(page.image_path)
    assert raster.dtype == np.uint8 and (raster.min(), raster.max()) == (0, 255)
    assert (np.diff(raster[0].astype(int)) >= 0).all()


@pytest.mark.parametrize(
    "paper,size_px,size_pt",
    [("A4", (827, 1169), (595.3, 841.9)), ("Letter", (850, 1100), (612, 792))],
)
def test_scan_without_dpi_gets_its_paper_size(tmp_path, paper, size_px, size_pt):
    """A 100 dpi scan saved with no dpi: a page of its real size, the same pixels read."""
    image = page_with_text(f"{paper} form", size=size_px)
    path = tmp_path / "form.png"
    image.save(path)  # no dpi metadata
    assert "dpi" not in Image.open(path).info
    (page,) = render(path, tmp_path / "work")
    assert (page.width, page.height) == pytest.approx(size_pt, abs=1)
    assert page.dpi == 100 and (pixels(page.image_path) == np.asarray(image)).all()


def test_truncated_jpeg_is_corrupt(tmp_path):
    buffer = io.BytesIO()
    page_with_text("Cut short", mode="RGB").save(buffer, format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:5000])
    with pytest.raises(CorruptFileError, match="truncated"):
        render(path, tmp_path / "work")


@pytest.mark.parametrize(
    "info,expected",
    [
        ({"dpi": (300, 300)}, (300, 300)),
        ({"dpi": (204, 98)}, (204, 98)),
        ({}, (150, 150)),
        ({"dpi": (1, 1)}, (150, 150)),
        ({"dpi": (0, 0)}, (150, 150)),
        ({"dpi": (float("nan"), 200)}, (200, 200)),
        ({"dpi": (72, 99999)}, (72, 72)),
        ({"dpi": "junk"}, (150, 150)),
    ],
)
def test_image_dpi(info, expected):
    assert image_dpi(info, (1275, 1650)) == expected  # without a sane dpi: Letter at 150 dpi


# --- PDFs --------------------------------------------------------------------------------


def test_scanned_pdf_is_rasterised(tmp_path):
    (page,) = render(scanned_pdf(tmp_path / "scan.pdf"), tmp_path / "work", dpi=150)
    assert (page.method, page.dpi, page.lines) == ("ocr", 150, ())
    assert (page.width, page.height) == (612, 792)
    raster = pixels(page.image_path)
    assert raster.shape == (1650, 1275)  # gray page, 8.5 x 11 in at 150 dpi
    assert raster.min() < 50 and np.median(raster) == 255


def test_colour_pdf_page_is_rasterised_in_rgb(tmp_path):
    doc = pymupdf.open()
    doc.new_page().draw_rect(pymupdf.Rect(100, 100, 300, 200), color=(1, 0, 0), fill=(1, 0, 0))
    doc.save(tmp_path / "red.pdf")
    (page,) = render(tmp_path / "red.pdf", tmp_path / "work", dpi=72)
    assert tuple(pixels(page.image_path)[150, 200]) == (255, 0, 0)


def test_born_digital_pdf_uses_the_text_layer(tmp_path):
    path = text_pdf(
        tmp_path / "letter.pdf",
        ["Invoice number 12345 due 2024-05-01", "Total amount payable: 99.50 EUR"],
    )
    (page,) = render(path, tmp_path / "work")
    assert (page.method, page.image_path) == ("text", None)
    assert not list((tmp_path / "work").iterdir())
    assert [line.text for line in page.lines] == [
        "Invoice number 12345 due 2024-05-01",
        "Total amount payable: 99.50 EUR",
    ]
    invoice = page.lines[0].words[0]
    assert (invoice.text, invoice.confidence) == ("Invoice", 1.0)
    x0, y0, x1, y1 = invoice.box  # baseline at y = 792 - 720 = 72 pt from the top
    assert x0 == pytest.approx(72, abs=0.5) and 56 < y0 < 72 < y1 < 80 and x1 < 130
    assert page.lines[1].box[1] > page.lines[0].box[3] - 1


def test_mixed_pdf_has_text_then_ocr_pages(tmp_path):
    doc = pymupdf.open(text_pdf(tmp_path / "text.pdf", ["A born-digital first page here"]))
    doc.insert_pdf(pymupdf.open(scanned_pdf(tmp_path / "scan.pdf")))
    doc.save(tmp_path / "mixed.pdf")
    pages = render(tmp_path / "mixed.pdf", tmp_path / "work")
    assert [p.method for p in pages] == ["text", "ocr"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["page-0002.pgm"]


def ink_inside(raster: np.ndarray, box, scale: float) -> float:
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    return float((raster[y0:y1, x0:x1] < 128).sum())


def test_rotated_page_boxes_are_in_displayed_coordinates(tmp_path):
    doc = pymupdf.open(
        text_pdf(
            tmp_path / "text.pdf", ["Rotated words should land here", "and a second line of text"]
        )
    )
    doc[0].set_rotation(90)
    doc.save(tmp_path / "rotated.pdf")
    (page,) = render(tmp_path / "rotated.pdf", tmp_path / "work")
    assert (page.method, page.width, page.height) == ("text", 792, 612)
    shown = pymupdf.open(tmp_path / "rotated.pdf")[0].get_pixmap(dpi=144, colorspace="gray")
    raster = np.frombuffer(shown.samples, np.uint8).reshape(shown.height, shown.width)
    all_ink = (raster < 128).sum()
    words = [word for line in page.lines for word in line.words]
    assert all(ink_inside(raster, word.box, 2) > 0 for word in words)
    assert sum(ink_inside(raster, word.box, 2) for word in words) == all_ink
    box = page.lines[0].box
    assert box[3] - box[1] > 5 * (box[2] - box[0])  # the line runs down the displayed page


def test_unmapped_text_layer_is_ocred(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "\ufffd" * 40 + " abc")
    doc.save(tmp_path / "garbage.pdf")
    (page,) = render(tmp_path / "garbage.pdf", tmp_path / "work")
    assert page.method == "ocr" and page.image_path.exists()


def test_damaged_pdf_is_repaired_and_mupdf_warnings_are_logged(tmp_path, caplog):
    data = scanned_pdf(tmp_path / "scan.pdf").read_bytes()
    (tmp_path / "damaged.pdf").write_bytes(data.replace(b"startxref", b"startxXXX"))
    with caplog.at_level(logging.DEBUG, logger="tasks.files"):
        (page,) = render(tmp_path / "damaged.pdf", tmp_path / "work")
    assert page.method == "ocr" and pixels(page.image_path).min() < 50
    assert page.repaired  # recorded, for the caller to store
    assert any("MuPDF" in r.getMessage() and "repair" in r.getMessage() for r in caplog.records)


def test_pdf_whose_page_content_is_garbage_is_corrupt_at_render(tmp_path):
    doc = pymupdf.open(scanned_pdf(tmp_path / "scan.pdf", pages=2))
    doc[0].insert_text((72, 72), "a stamp")  # the page claims text and an image
    for xref in doc[0].get_contents():
        doc.update_stream(xref, bytes((i * 37) % 256 for i in range(300)), compress=0)
    doc.save(tmp_path / "garbage.pdf")
    with pytest.raises(CorruptFileError, match=r"page 1 claims images and text but renders blank"):
        render(tmp_path / "garbage.pdf", tmp_path / "work")


def test_blank_pages_are_processed(tmp_path):
    doc = pymupdf.open()
    doc.new_page()  # nothing on it
    buffer = io.BytesIO()
    Image.new("L", (850, 1100), 255).save(buffer, format="PNG")
    doc.new_page().insert_image(
        pymupdf.Rect(0, 0, 612, 792), stream=buffer.getvalue()
    )  # white scan
    doc.save(tmp_path / "blank.pdf")
    pages = render(tmp_path / "blank.pdf", tmp_path / "work")
    assert [(p.method, p.repaired) for p in pages] == [("ocr", False), ("ocr", False)]
    assert all(pixels(p.image_path).min() == 255 for p in pages)


def test_oversized_page_is_refused(tmp_path):
    doc = pymupdf.open()
    doc.new_page(width=8400, height=8400)  # 116.7 in square
    doc.save(tmp_path / "poster.pdf")
    with pytest.raises(TooLargeError, match=r"page 1 is 116.7 x 116.7 in"):
        render(tmp_path / "poster.pdf", tmp_path / "work")


def test_large_page_gets_a_lower_dpi(tmp_path):
    doc = pymupdf.open()
    doc.new_page(width=720, height=720).insert_text((72, 72), "big")  # 10 x 10 in
    doc.save(tmp_path / "big.pdf")
    (page,) = render(
        tmp_path / "big.pdf", tmp_path / "work", dpi=300, min_dpi=50, max_pixels=1_000_000
    )
    assert page.dpi == 100 and pixels(page.image_path).shape == (1000, 1000)


def test_fit_dpi_keeps_the_raster_within_max_pixels():
    assert fit_dpi(1, 612, 792, 300, 100, 100_000_000) == 300
    lowered = fit_dpi(1, 2160, 2160, 400, 100, 100_000_000)
    assert 300 <= lowered < 334 and (2160 * lowered / 72) ** 2 <= 100_000_000


@pytest.mark.parametrize(
    "text,usable",
    [
        pytest.param("An ordinary sentence with enough letters.", True, id="plain"),
        pytest.param("Too short", False, id="short"),
        pytest.param("\ufffd" * 30 + " real words", False, id="replacement-chars"),
        pytest.param("\ue000\ue001\ue002" * 10 + " abcdefghijklmnopqrstuvwxyz", False, id="pua"),
        pytest.param(
            "".join(chr(ord(c) << 8) for c in "Multicolor Black Pure Cyan Magenta"),
            False,
            id="byte-swapped-utf16",
        ),
        pytest.param(
            "这是一个正常的中文句子，包含二十多个汉字，用来测试文字层是否可用。", True, id="chinese"
        ),
        pytest.param(
            "\uf0b7 First point of the list \uf0b7 Second point of the list", True, id="pua-bullets"
        ),
        pytest.param("........ ---- ____ ...... ;;;; ::::", False, id="punctuation-only"),
    ],
)
def test_usable_text(text, usable):
    assert usable_text(text, 20) is usable


# --- robustness corpus -------------------------------------------------------------------

CORPUS_FILES = sorted(p for p in CORPUS.glob("*/*") if p.is_file()) if CORPUS.is_dir() else []
EXPECTED = {  # outcomes worth pinning; every other file must just render or be rejected
    "ocrmypdf/hugemono.pdf": "too_large",
    "ocrmypdf/poster.pdf": "too_large",
    "ocrmypdf/invalid.pdf": "corrupt_file",
    "ocrmypdf/livecycle.pdf": "unsupported_file",
    "pillow/decompression_bomb.gif": "too_large",
    "pillow/truncated_image.png": "corrupt_file",
    "pillow/truncated_jpeg.jpg": "corrupt_file",
    "pillow/broken.png": "corrupt_file",
    "ocrmypdf/truetype_font_nomapping.pdf": ["ocr"],
    "ocrmypdf/cmyk.pdf": ["ocr"],
    "ocrmypdf/tagged.pdf": ["text", "text"],
    "ocrmypdf/toc.pdf": ["text", "ocr"],
    "pillow/g4-multi.tiff": ["ocr"] * 3,
    "pillow/total-pages-zero.tif": ["ocr"] * 3,
}


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging (where SIGALRM exists)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(*_):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not CORPUS_FILES, reason=f"robustness corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_renders_or_is_rejected(path, tmp_path):
    started = time.monotonic()
    with deadline(30):
        try:
            pages = render(path, tmp_path, dpi=150)
        except RejectedError as exc:
            outcome: object = exc.kind
        else:
            outcome = [page.method for page in pages]
            for page in pages:
                check_page_raster(page)
    assert time.monotonic() - started < 15
    expected = EXPECTED.get(f"{path.parent.name}/{path.name}")
    assert expected is None or outcome == expected


def check_page_raster(page) -> None:
    if page.method == "text":
        assert page.image_path is None and page.lines
        return
    with Image.open(page.image_path) as raster:
        raster.load()
        assert raster.mode in ("L", "RGB")
        assert raster.width == pytest.approx(page.width * page.dpi / 72, abs=1.01)
        assert raster.height == pytest.approx(page.height * page.dpi / 72, abs=1.01)
