"""Pages: one raster per page that needs OCR, or the lines of a PDF's own text layer.

Rasters are `work_dir/page-0001.pgm` for gray and bilevel sources (bilevel is widened to 8-bit
so the OCR step sees only L or RGB) and `.ppm` for colour; the dpi travels in the `Page`.
Uncompressed because a raster lives for one run: PNG's deflate cost ten times the raw write and
read, 0.12 s of CPU for an A4 page at 300 dpi. Pages are handled one at a time, so at most one
page raster is in memory.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageOps
from prefect.runtime import flow_run

from core.errors import CorruptFileError, TooLargeError
from core.settings import Settings
from core.values import Box, Line, Page, Source, Word
from store import folders
from tasks.dpi import image_dpi
from tasks.files import check_pixels, open_image, open_pdf, pdf_errors, pil_errors
from tasks.pdf_check import check_rendered
from tasks.tracking import step

log = logging.getLogger(__name__)

_TEXT_FLAGS = pymupdf.TEXT_MEDIABOX_CLIP  # ligatures expanded; unknown glyphs come out as U+FFFD
_GARBAGE_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}
_MAX_GARBAGE = 0.10
_PROBE_DPI = 24
_SCAN_COVER = 0.5  # images on at least half the page: a scan
_STAMP_EXTENT = 0.3  # text within under 30 % of the page height: a stamp, not its content
_GRAY_SPREAD = 12  # most a pixel's channels may differ for the page to count as gray
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}


@dataclass(frozen=True)
class _Limits:
    dpi: int
    min_dpi: int
    max_pixels: int
    text_layer_min_chars: int


@step("render", "render {source.name}")
def render(source: Source, settings: Settings) -> list[Page]:
    """Every page of `source`, rasters under the work folder."""
    return render_pages(
        source,
        work_folder(settings, source.sha256),
        dpi=settings.dpi,
        min_dpi=settings.min_dpi,
        max_pixels=settings.max_pixels,
        text_layer_min_chars=settings.text_layer_min_chars,
    )


def work_folder(settings: Settings, sha256: str) -> Path:
    """This run's raster folder for the document."""
    return folders.work_folder(settings.work, sha256, flow_run.id or "local")


def discard_rasters(settings: Settings, sha256: str) -> None:
    """Remove the page rasters of a document once it is done with."""
    shutil.rmtree(work_folder(settings, sha256), ignore_errors=True)


def render_pages(
    source: Source,
    work_dir: Path,
    *,
    dpi: int,
    min_dpi: int,
    max_pixels: int,
    text_layer_min_chars: int,
) -> list[Page]:
    """Every page of `source`: text-layer pages with their lines, the others rasterised."""
    limits = _Limits(dpi, min_dpi, max_pixels, text_layer_min_chars)
    work_dir.mkdir(parents=True, exist_ok=True)
    render = _pdf_pages if source.kind == "pdf" else _image_pages
    pages = render(source, work_dir, limits)
    texts = sum(page.method == "text" for page in pages)
    log.info(
        "%s: %d page(s) ready, %d from the text layer, %d to OCR",
        source.name,
        len(pages),
        texts,
        len(pages) - texts,
    )
    return pages


def usable_text(text: str, min_chars: int) -> bool:
    """True when `text` has `min_chars` letters or digits and at most 10 % garbage characters.

    Garbage is what fonts without a Unicode mapping produce: U+FFFD, private-use, control,
    unassigned code points, and ASCII read as byte-swapped UTF-16 (U+4D00 for "M").
    """
    chars = [c for c in text if not c.isspace()]
    garbage = sum(_is_garbage(c) for c in chars)
    readable = sum(c.isalnum() and not _is_garbage(c) for c in chars)
    return readable >= min_chars and garbage <= _MAX_GARBAGE * len(chars)


def _is_garbage(char: str) -> bool:
    code = ord(char)
    if char == "\ufffd" or unicodedata.category(char) in _GARBAGE_CATEGORIES:
        return True
    return code & 0xFF == 0 and 0x20 <= code >> 8 <= 0x7E


def stamped_scan(page: pymupdf.Page, lines: tuple[Line, ...]) -> bool:
    """True for a scan whose only text is a stamp: images cover most of the page while the
    text spans a thin band of it (a "Scanned with ..." footer, a fax header, a Bates number)."""
    area = page.rect.width * page.rect.height
    covered = sum(
        (pymupdf.Rect(info["bbox"]) & page.mediabox).get_area() for info in page.get_image_info()
    )
    if covered < _SCAN_COVER * area or not lines:
        return False
    extent = max(line.box[3] for line in lines) - min(line.box[1] for line in lines)
    return extent < _STAMP_EXTENT * page.rect.height


def _raster_path(work_dir: Path, number: int, mode: str) -> Path:
    return work_dir / f"page-{number:04d}{raster_suffix(mode)}"


def raster_suffix(mode: str) -> str:
    """Rasters are PGM (gray) or PPM (colour): no compression, as they live for one run."""
    return ".pgm" if mode == "L" else ".ppm"


# --- PDF ---------------------------------------------------------------------------------


def _pdf_pages(source: Source, work_dir: Path, limits: _Limits) -> list[Page]:
    pages = []
    with open_pdf(source.path) as doc:
        repaired = doc.is_repaired
        for index in range(doc.page_count):
            with pdf_errors(f"{source.name} page {index + 1}"):
                page = _pdf_page(doc.load_page(index), index + 1, work_dir, limits, repaired)
            pages.append(dataclasses.replace(page, repaired=repaired))
    if repaired:
        log.info(
            "%s: damaged PDF repaired by MuPDF, %d page(s) with content", source.name, len(pages)
        )
    return pages


def _pdf_page(
    page: pymupdf.Page, number: int, work_dir: Path, limits: _Limits, repaired: bool
) -> Page:
    width, height = page.rect.width, page.rect.height
    if width <= 0 or height <= 0:
        raise CorruptFileError(f"page {number} has no area ({width} x {height} pt)")
    lines = text_lines(page)
    text = " ".join(line.text for line in lines)
    if usable_text(text, limits.text_layer_min_chars) and not stamped_scan(page, lines):
        log.debug("page %d: text layer with %d lines", number, len(lines))
        return Page(number, width, height, "text", lines=lines)
    dpi = fit_dpi(number, width, height, limits.dpi, limits.min_dpi, limits.max_pixels)
    colorspace = pymupdf.csGRAY if _looks_gray(page) else pymupdf.csRGB
    pix = page.get_pixmap(dpi=dpi, colorspace=colorspace, alpha=False)
    # MuPDF's warnings since this page's pdf_errors began: what went wrong drawing it
    check_rendered(page, pix, number, repaired=repaired, warnings=pymupdf.TOOLS.mupdf_warnings(0))
    path = _raster_path(work_dir, number, "L" if pix.n == 1 else "RGB")
    pix.save(str(path))
    log.debug(
        "page %d: %d x %d px %s at %d dpi", number, pix.width, pix.height, colorspace.name, dpi
    )
    return Page(number, width, height, "ocr", image_path=path, dpi=float(dpi))


def text_lines(page: pymupdf.Page) -> tuple[Line, ...]:
    """The page's text layer as lines of words, boxes in displayed points (rotation applied)."""
    rotate = page.rotation_matrix
    grouped: dict[tuple[int, int], list[Word]] = {}
    for x0, y0, x1, y1, text, block, line, _ in page.get_text("words", flags=_TEXT_FLAGS):
        box = _box(pymupdf.Rect(x0, y0, x1, y1) * rotate)
        grouped.setdefault((block, line), []).append(Word(text, 1.0, box))
    return tuple(_line(words) for words in grouped.values())


def _line(words: list[Word]) -> Line:
    box = (
        min(w.box[0] for w in words),
        min(w.box[1] for w in words),
        max(w.box[2] for w in words),
        max(w.box[3] for w in words),
    )
    return Line(" ".join(w.text for w in words), 1.0, box, tuple(words))


def _box(rect: pymupdf.Rect) -> Box:
    return (round(rect.x0, 2), round(rect.y0, 2), round(rect.x1, 2), round(rect.y1, 2))


def fit_dpi(
    number: int, width: float, height: float, dpi: int, min_dpi: int, max_pixels: int
) -> int:
    """`dpi`, or the highest dpi at which a width x height pt page fits `max_pixels`."""

    def pixels(d: int) -> int:
        return math.ceil(width * d / 72) * math.ceil(height * d / 72)

    if pixels(dpi) > max_pixels:
        dpi = min(dpi, int(math.sqrt(max_pixels / (width * height / 72**2))))
        while dpi >= min_dpi and pixels(dpi) > max_pixels:
            dpi -= 1
        if dpi < min_dpi:
            raise TooLargeError(
                f"page {number} is {width / 72:.1f} x {height / 72:.1f} in; even at {min_dpi} "
                f"dpi it needs {pixels(min_dpi):,} pixels, above the {max_pixels:,} limit"
            )
        log.debug("page %d: lowered to %d dpi to fit %d pixels", number, dpi, max_pixels)
    return dpi


def _looks_gray(page: pymupdf.Page) -> bool:
    """True when a coarse colour rendering of the page shows no colour."""
    probe = page.get_pixmap(dpi=_PROBE_DPI, colorspace=pymupdf.csRGB, alpha=False)
    rgb = np.frombuffer(probe.samples, np.uint8).reshape(-1, 3).astype(np.int16)
    return int(np.ptp(rgb, axis=1).max(initial=0)) <= _GRAY_SPREAD


# --- images ------------------------------------------------------------------------------


def _image_pages(source: Source, work_dir: Path, limits: _Limits) -> list[Page]:
    pages = []
    with open_image(source.path, limits.max_pixels) as im:
        for index in range(source.page_count):
            what = f"{source.name} page {index + 1}"
            with pil_errors(what):
                im.seek(index)
                check_pixels(what, im.size, limits.max_pixels)
                pages.append(_image_page(im, index + 1, work_dir, limits))
    return pages


def _image_page(im: Image.Image, number: int, work_dir: Path, limits: _Limits) -> Page:
    orientation = im.getexif().get(0x0112, 1)  # read before load: TIFF applies it on load
    dpi_x, dpi_y = image_dpi(im.info, im.size)
    if orientation in (5, 6, 7, 8):
        dpi_x, dpi_y = dpi_y, dpi_x
    im.load()
    frame = ImageOps.exif_transpose(im) if orientation != 1 else im
    bilevel = frame.mode == "1"
    frame, dpi = _square_pixels(_flatten(frame), dpi_x, dpi_y, limits.max_pixels, number, bilevel)
    path = _raster_path(work_dir, number, frame.mode)
    frame.save(path, format="PPM")
    log.debug(
        "page %d: %d x %d px %s at %.0f dpi", number, frame.width, frame.height, frame.mode, dpi
    )
    return Page(
        number, frame.width * 72 / dpi, frame.height * 72 / dpi, "ocr", image_path=path, dpi=dpi
    )


def _square_pixels(
    im: Image.Image, dpi_x: float, dpi_y: float, max_pixels: int, number: int, bilevel: bool
) -> tuple[Image.Image, float]:
    """Resample non-square pixels (fax 204 x 98 dpi) up to the larger dpi on both axes; a
    black-and-white page stays black and white (nearest pixel), so its PDF keeps it G4."""
    dpi = max(dpi_x, dpi_y)
    if abs(dpi_x - dpi_y) <= 0.01 * dpi:
        return im, dpi_x
    size = (round(im.width * dpi / dpi_x), round(im.height * dpi / dpi_y))
    check_pixels(f"page {number} resampled to square pixels", size, max_pixels)
    resample = Image.Resampling.NEAREST if bilevel else Image.Resampling.BICUBIC
    return im.resize(size, resample), dpi


def _flatten(im: Image.Image) -> Image.Image:
    """`im` as L (gray or bilevel) or RGB (colour), transparency composited on white."""
    if im.mode == "P":
        mode = "L" if _gray_palette(im) else "RGB"
        im = im.convert(mode + "A" if im.has_transparency_data else mode)
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        return _stretch(im)
    if im.mode in _ALPHA_MODES:
        base = "L" if im.mode in ("LA", "La") else "RGB"
        alpha = im.convert(base + "A")
        flat = Image.new(base, im.size, "white")
        flat.paste(alpha.convert(base), mask=alpha.getchannel("A"))
        return flat
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode == "1" else "RGB")


def _gray_palette(im: Image.Image) -> bool:
    palette = im.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def _stretch(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float gray to 8-bit, stretching the values actually used to 0..255."""
    values = np.asarray(im, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / max(high - low, 1e-6))
    return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8))
