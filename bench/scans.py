"""Scan-like inputs for the hot-folder benchmark, made here (Pillow's built-in font, PyMuPDF).

`small_page`: a one-page scan about A5 at 200 dpi. `a4_set`: what an office drops at once, A4
scans at 200-300 dpi of several kinds: single pages as PNG, JPEG and TIFF (CCITT G4), image-only
PDFs of three pages and multi-page TIFFs. Every page holds distinct text.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFont

WORDS = (
    "invoice",
    "total",
    "amount",
    "delivery",
    "order",
    "customer",
    "account",
    "balance",
    "payment",
    "due",
    "date",
    "shipped",
    "received",
    "quantity",
    "price",
    "tax",
    "discount",
    "reference",
    "number",
    "street",
    "city",
    "contract",
    "signed",
    "period",
)
A4 = (8.27, 11.69)  # inches


def small_page(seed: int) -> bytes:
    """A one-page scan-like PNG (about A5 at 200 dpi) with 12 lines of distinct text."""
    rng = random.Random(seed)
    font = ImageFont.load_default(size=30)
    img = Image.new("L", (1200, 900), "white")
    draw = ImageDraw.Draw(img)
    for i in range(12):
        words = " ".join(rng.choice(WORDS) for _ in range(6))
        draw.text((60, 50 + i * 66), f"{words} {seed}-{i}", fill="black", font=font)
    return _encoded(img, "PNG", dpi=(200, 200))


def a4_page(seed: int, dpi: int) -> Image.Image:
    """An A4 page at `dpi`: a title, 30 lines of prose-like words, a total line; gray."""
    rng = random.Random(seed)
    width, height = round(A4[0] * dpi), round(A4[1] * dpi)
    img = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(img)
    size = round(dpi * 0.14)  # about 10 pt type
    font, title = ImageFont.load_default(size=size), ImageFont.load_default(size=size * 2)
    margin, pitch = round(dpi * 0.9), round(size * 1.6)
    draw.text((margin, margin), f"Statement {seed}", fill=20, font=title)
    for i in range(30):
        words = " ".join(rng.choice(WORDS) for _ in range(9))
        draw.text(
            (margin, margin + 3 * size + i * pitch), f"{words} {seed}.{i}", fill=30, font=font
        )
    draw.text(
        (margin, margin + 4 * size + 31 * pitch),
        f"Total due {rng.randint(10, 9999)}.00",
        fill=20,
        font=font,
    )
    return img


def a4_set(folder: Path, seed: int = 0) -> dict[Path, int]:
    """24 files, 36 A4 pages: {path: pages}."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[Path, int] = {}
    for n in range(16):  # single pages: PNG, JPEG, G4 TIFF at 200-300 dpi
        dpi = (200, 250, 300)[n % 3]
        page = a4_page(seed * 1000 + n, dpi)
        kind = ("png", "jpg", "tif", "png")[n % 4]
        path = folder / f"scan-{seed}-{n:02}.{kind}"
        path.write_bytes(_scan_bytes(page, kind, dpi))
        made[path] = 1
    for n in range(4):  # three-page image-only PDFs
        path = folder / f"contract-{seed}-{n}.pdf"
        path.write_bytes(_pdf([a4_page(seed * 1000 + 100 + 3 * n + k, 200) for k in range(3)]))
        made[path] = 3
    for n in range(4):  # two-page G4 TIFFs, as fax and copier scans come
        pages = [a4_page(seed * 1000 + 200 + 2 * n + k, 300).convert("1") for k in range(2)]
        path = folder / f"fax-{seed}-{n}.tif"
        buffer = io.BytesIO()
        pages[0].save(
            buffer,
            "TIFF",
            compression="group4",
            dpi=(300, 300),
            save_all=True,
            append_images=pages[1:],
        )
        path.write_bytes(buffer.getvalue())
        made[path] = 2
    return made


def _scan_bytes(page: Image.Image, kind: str, dpi: int) -> bytes:
    if kind == "jpg":
        return _encoded(page, "JPEG", quality=85, dpi=(dpi, dpi))
    if kind == "tif":
        return _encoded(page.convert("1"), "TIFF", compression="group4", dpi=(dpi, dpi))
    return _encoded(page, "PNG", dpi=(dpi, dpi))


def _pdf(pages: list[Image.Image]) -> bytes:
    """An image-only PDF, each page an A4 JPEG as a scanner writes it."""
    doc = pymupdf.open()
    for page in pages:
        sheet = doc.new_page(width=A4[0] * 72, height=A4[1] * 72)
        sheet.insert_image(sheet.rect, stream=_encoded(page, "JPEG", quality=85))
    return doc.tobytes(garbage=3, deflate=True)


def _encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()
