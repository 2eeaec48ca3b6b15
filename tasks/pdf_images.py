"""Page images of an image file's searchable PDF, embedded as they are where PDF carries them.

A JPEG goes in as its own bytes (DCTDecode) and a CCITT G4 TIFF frame as its own strips
(CCITTFaxDecode): no pixel is decoded or re-encoded, so the PDF is no larger than the scan and
shows exactly the scan. The page is laid out as the file stores the image and turned for display
with /Rotate (EXIF or TIFF orientation, and any turn the engine made to read it upright). Other
images, and those PDF cannot show as stored (mirrored, CMYK JPEG, tiled or G3 TIFF), go in as
the page raster the engine read: G4-coded when it is pure black and white.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pymupdf
from PIL import Image, TiffImagePlugin

from core.values import Page, Source
from tasks.files import pil_errors

log = logging.getLogger(__name__)

_JPEG_QUALITY = 85
# Clockwise turn that shows an image stored with this EXIF/TIFF orientation upright. Mirrored
# orientations (2, 4, 5, 7) have no /Rotate equivalent: those images go in as their raster.
_TURN = {1: 0, 3: 180, 6: 90, 8: 270}
_ORIENTATION = 0x0112
_TIFF_TAGS = {
    "width": 256,
    "height": 257,
    "bits": 258,
    "compression": 259,
    "photometric": 262,
    "fill_order": 266,
    "offsets": 273,
    "samples": 277,
    "rows_per_strip": 278,
    "counts": 279,
    "t6_options": 293,
    "tile_width": 322,
}
_G4, _UNCOMPRESSED_MODE = 4, 0x2
_REVERSED_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


@dataclass(frozen=True)
class _Strips:
    """One G4 frame as stored: its strips' coded bytes, each `rows` high."""

    width: int
    height: int
    rows: int
    black_is_1: bool
    data: tuple[bytes, ...]


def add_image_page(doc: pymupdf.Document, source: Source, page: Page) -> None:
    """Append `page` of the image file `source` to `doc`, its image embedded as stored when
    PDF can carry it, else its raster."""
    original = _original(source, page)
    if original is None:
        _add_raster(doc, page)
        return
    image, orientation = original
    turn = (_TURN[orientation] - page.rotation) % 360
    width, height = (page.height, page.width) if turn % 180 else (page.width, page.height)
    target = doc.new_page(width=width, height=height)
    if isinstance(image, bytes):
        target.insert_image(target.rect, stream=image, keep_proportion=False)
    else:
        _draw_strips(doc, target, image)
    target.set_rotation(turn)
    what = "JPEG" if isinstance(image, bytes) else f"G4 in {len(image.data)} strip(s)"
    log.debug("%s page %d: %s embedded as stored, turned %d", source.name, page.number, what, turn)


def _original(source: Source, page: Page) -> tuple[bytes | _Strips, int] | None:
    """The stored image of `page` and its orientation, when PDF can show it without decoding."""
    if source.kind not in ("jpeg", "tiff"):
        return None
    with pil_errors(source.name), Image.open(source.path) as im:
        image: bytes | _Strips | None = None
        if im.format == "JPEG" and im.mode in ("L", "RGB"):
            image, orientation = source.path.read_bytes(), im.getexif().get(_ORIENTATION, 1)
        elif isinstance(im, TiffImagePlugin.TiffImageFile):  # tags read before decoding
            im.seek(page.number - 1)
            tags = {key: im.tag_v2.get(tag) for key, tag in _TIFF_TAGS.items()}
            image, orientation = _g4_strips(source.path, tags), im.tag_v2.get(_ORIENTATION, 1)
    return (image, int(orientation)) if image and orientation in _TURN else None


def _g4_strips(path: Path, tags: dict) -> _Strips | None:
    """A G4 frame's strips as PDF's CCITTFaxDecode reads them, or None for any other TIFF."""
    width, height = tags["width"], tags["height"]
    offsets, counts = tags["offsets"], tags["counts"]
    if (
        tags["compression"] != _G4
        or tags["bits"] not in (None, 1, (1,))
        or tags["samples"] not in (None, 1)
        or tags["tile_width"] is not None
        or tags["photometric"] not in (0, 1)
        or (tags["t6_options"] or 0) & _UNCOMPRESSED_MODE
        or not offsets
        or len(offsets) != len(counts or ())
        or not width
        or not height
    ):
        return None
    rows = min(int(tags["rows_per_strip"] or height), height)
    if len(offsets) != -(-height // rows):
        return None
    data = []
    with path.open("rb") as f:
        for offset, count in zip(offsets, counts, strict=True):
            f.seek(offset)
            data.append(f.read(count))
    if any(len(strip) != count for strip, count in zip(data, counts, strict=True)):
        return None
    if tags["fill_order"] == 2:  # least significant bit first: PDF reads the most first
        data = [strip.translate(_REVERSED_BITS) for strip in data]
    # In TIFF, G4's "white" runs are 0 bits; BlackIsZero (1) makes them black.
    return _Strips(width, height, rows, tags["photometric"] == 1, tuple(data))


def _draw_strips(doc: pymupdf.Document, target: pymupdf.Page, strips: _Strips) -> None:
    """Draw each strip as a CCITT image in its band of the page, in one content stream."""
    black = "/BlackIs1 true" if strips.black_is_1 else ""
    parms = doc.get_new_xref()  # shared by the strips: each image dict stays short
    doc.update_object(parms, f"<</K -1/Columns {strips.width}{black}>>")
    scale = target.rect.height / strips.height
    names, ops = [], []
    for i, data in enumerate(strips.data):
        top = i * strips.rows
        rows = min(strips.rows, strips.height - top)
        xref = _ccitt_image(doc, data, strips.width, rows, parms)
        names.append(f"/S{i} {xref} 0 R")
        bottom = target.rect.height - (top + rows) * scale
        ops.append(f"q {target.rect.width:g} 0 0 {rows * scale:g} 0 {bottom:g} cm /S{i} Do Q")
    doc.xref_set_key(target.xref, "Resources", f"<</XObject<<{' '.join(names)}>>>>")
    contents = doc.get_new_xref()
    doc.update_object(contents, "<<>>")
    doc.update_stream(contents, "\n".join(ops).encode())
    doc.xref_set_key(target.xref, "Contents", f"{contents} 0 R")


def _ccitt_image(doc: pymupdf.Document, data: bytes, width: int, rows: int, parms: int) -> int:
    """A new image XObject holding G4-coded `data` as is; its xref."""
    xref = doc.get_new_xref()
    doc.update_object(xref, f"<</Subtype/Image/Width {width}/Height {rows}/ColorSpace/DeviceGray>>")
    doc.update_stream(xref, data, compress=0)  # this drops any filter: set it after
    doc.xref_set_key(xref, "BitsPerComponent", "1")
    doc.xref_set_key(xref, "Filter", "/CCITTFaxDecode")
    doc.xref_set_key(xref, "DecodeParms", f"{parms} 0 R")
    return xref


def _add_raster(doc: pymupdf.Document, page: Page) -> None:
    """A page showing the raster the engine read, compactly encoded: pure black and white as
    G4 (a G3 fax or a bilevel PNG comes out about as small as it went in), else `_raster_bytes`."""
    if page.image_path is None:
        raise ValueError(f"page {page.number} of an image needs its raster")
    target = doc.new_page(width=page.width, height=page.height)
    strips = _as_g4(page.image_path)
    if strips is not None:
        _draw_strips(doc, target, strips)
        return
    target.insert_image(target.rect, stream=_raster_bytes(page.image_path), keep_proportion=False)


def _as_g4(path: Path) -> _Strips | None:
    """The raster at `path` coded as G4 when it is pure black and white, else None."""
    coded = path.with_name(f"{path.stem}.g4.tif")
    with pil_errors(f"page raster {path.name}"), Image.open(path) as img:
        if img.mode not in ("1", "L") or (img.mode == "L" and any(img.histogram()[1:255])):
            return None
        bilevel = img.convert("1", dither=Image.Dither.NONE)
        bilevel.save(coded, "TIFF", compression="group4", strip_size=1 << 30)  # one strip
    try:
        with Image.open(coded) as tiff:
            if not isinstance(tiff, TiffImagePlugin.TiffImageFile):
                return None
            tags = {key: tiff.tag_v2.get(tag) for key, tag in _TIFF_TAGS.items()}
        return _g4_strips(coded, tags)
    finally:
        coded.unlink(missing_ok=True)


def _raster_bytes(path: Path) -> bytes:
    """A page raster to embed: gray kept lossless (MuPDF reads PGM and PNG as they are, and
    deflates the pixels itself), colour as JPEG."""
    with pil_errors(f"page raster {path.name}"), Image.open(path) as img:
        if img.mode in ("1", "L"):
            return path.read_bytes() if img.format in ("PNG", "PPM") else _encoded(img, "PNG")
        return _encoded(img.convert("RGB"), "JPEG", quality=_JPEG_QUALITY)


def _encoded(img: Image.Image, fmt: str, **options: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()
