"""Scan-like benchmark pages with ground truth, generated deterministically from a seed.

Each page is an encoded image file (PNG, JPEG or G4 TIFF, dpi recorded) plus the text lines
as drawn, in reading order (upright text for rotated pages, column by column for two columns).
Fonts: Pillow's built-in scalable font and the text faces reportlab ships (Bitstream Vera,
and Type 1 clones of Helvetica/Arial, Times and Courier): the bench controls them, so the
same seed draws the same pages on any machine with the same Pillow and reportlab, whatever
fonts the system has (`font_versions` names them in the report).
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import PIL
import reportlab
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bench.text import PARAGRAPHS, RECEIPT_HEADER, RECEIPT_ITEMS

FAMILIES = ("clean", "skew", "blur", "noise", "jpeg", "g4", "rotated", "columns", "receipt")
A4_INCHES = (8.27, 11.69)
RECEIPT_INCHES = 3.15  # 80 mm till roll
DPIS = (200, 240, 300)
DEFAULT_FONT = "default"
# reportlab's text faces (its fonts folder also holds a symbol, a dingbat, a calligraphic
# and a Khmer test font, which do not draw Latin text).
BENCH_FONTS = (
    "Vera.ttf", "VeraBd.ttf", "VeraIt.ttf", "VeraBI.ttf",
    "_a______.pfb", "_ab_____.pfb", "_ai_____.pfb", "_abi____.pfb",
    "_er_____.pfb", "_eb_____.pfb", "_ei_____.pfb", "_ebi____.pfb",
    "com_____.pfb", "cob_____.pfb", "coo_____.pfb", "cobo____.pfb",
)  # fmt: skip

_UPRIGHT = {"default", "Vera.ttf", "_a______.pfb", "_er_____.pfb", "com_____.pfb"}

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont
Placed = tuple[float, float, str]  # x, y (top), text


@dataclass(frozen=True)
class BenchPage:
    """One generated page: the encoded scan and the text drawn on it."""

    name: str  # '<family>-<index>', unique within a run
    family: str
    data: bytes  # the file as a scanner would deliver it
    suffix: str  # .png, .jpg or .tif
    dpi: int
    lines: tuple[str, ...]
    font: str
    rotation: int = 0  # degrees counter-clockwise the upright page was turned

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def image(self) -> Image.Image:
        """The decoded scan (mode L, RGB, or 1 for G4)."""
        img = Image.open(io.BytesIO(self.data))
        img.load()
        return img

    def save(self, folder: Path) -> Path:
        """Write the scan as `<name><suffix>` under `folder`; returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}{self.suffix}"
        path.write_bytes(self.data)
        return path


def generate(
    families: Iterable[str] = FAMILIES, per_family: int = 1, seed: int = 0
) -> list[BenchPage]:
    """`per_family` pages of each family, the same bytes for the same seed and fonts."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown page families: {sorted(unknown)}; known: {FAMILIES}")
    return [make_page(family, i, seed) for family in families for i in range(per_family)]


def make_page(family: str, index: int, seed: int = 0) -> BenchPage:
    """Page `index` of `family`: drawn upright, then degraded the way the family says."""
    rng = random.Random(f"{seed}:{family}:{index}")
    dpi = rng.choice(DPIS)
    font_name = pick_font(rng)
    if family == "receipt":
        img, lines = draw_receipt(rng, font_name, dpi)
    else:
        img, lines = draw_prose(rng, font_name, dpi, columns=2 if family == "columns" else 1)
    rotation = (90, 180, 270)[index % 3] if family == "rotated" else 0
    img, fmt = degrade(img, family, rng, dpi, rotation)
    data, suffix = encode(img, fmt, dpi, rng)
    return BenchPage(
        f"{family}-{index + 1}",
        family,
        data,
        suffix,
        dpi,
        tuple(lines),
        Path(font_name).stem,
        rotation,
    )


@cache
def available_fonts() -> tuple[str, ...]:
    """The built-in font plus the bench's own faces (from reportlab), in a fixed order."""
    folder = Path(reportlab.__file__).parent / "fonts"
    return (DEFAULT_FONT, *(str(folder / name) for name in BENCH_FONTS))


def font_versions() -> str:
    """Which fonts drew the pages: Pillow's and reportlab's versions."""
    return f"fonts: Pillow {PIL.__version__} built-in + reportlab {reportlab.Version} faces"


def pick_font(rng: random.Random) -> str:
    """Pillow's font for 30 %, upright regular faces for half, any face (bold, italic) else."""
    fonts, draw = available_fonts(), rng.random()
    if draw < 0.3:
        return DEFAULT_FONT
    upright = [f for f in fonts if Path(f).name in _UPRIGHT]
    return rng.choice(upright if draw < 0.8 else fonts)


def load_font(name: str, size: int) -> FontType:
    """`name` (a path, or 'default' for Pillow's built-in font) at `size` pixels."""
    if name == DEFAULT_FONT:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(name, size)


def wrap(words: Sequence[str], font: FontType, width: float) -> list[str]:
    """Greedy word wrap of `words` into lines no wider than `width` pixels."""
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def draw_prose(
    rng: random.Random, font_name: str, dpi: int, columns: int = 1
) -> tuple[Image.Image, list[str]]:
    """An upright A4 page of prose paragraphs in `columns` columns, with its lines."""
    width, height = (round(d * dpi) for d in A4_INCHES)
    size = round(rng.uniform(9.5, 12) * dpi / 72)
    font = load_font(font_name, size)
    margin, gutter, pitch = dpi * rng.uniform(0.8, 1.1), dpi * 0.35, size * rng.uniform(1.35, 1.6)
    col_width = (width - 2 * margin - gutter * (columns - 1)) / columns
    start = rng.randrange(len(PARAGRAPHS))
    placed: list[Placed] = []
    y, column, para = margin, 0, 0
    while column < columns:
        x = margin + column * (col_width + gutter)
        for text in wrap(PARAGRAPHS[(start + para) % len(PARAGRAPHS)].split(), font, col_width):
            if y + pitch > height - margin:
                column, y = column + 1, margin
                if column == columns:
                    break
                x = margin + column * (col_width + gutter)
            placed.append((x, y, text))
            y += pitch
        para, y = para + 1, (y + pitch * 0.6 if y > margin else y)
    return render(width, height, font, placed), [text for _, _, text in placed]


def draw_receipt(rng: random.Random, font_name: str, dpi: int) -> tuple[Image.Image, list[str]]:
    """A narrow till receipt: centred header, items with amounts right-aligned, totals."""
    size = round(rng.uniform(9, 11) * dpi / 72)
    font = load_font(font_name, size)
    width, margin, pitch = round(RECEIPT_INCHES * dpi), 0.15 * dpi, size * 1.45
    items = rng.sample(RECEIPT_ITEMS, rng.randint(7, 13))
    total = sum(round(float(amount) * 100) for _, amount in items)
    vat = round(total / 6)
    rows: list[tuple[str, str]] = [(h, "") for h in RECEIPT_HEADER]
    rows += [
        (
            f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}/2024 {rng.randint(8, 20)}:"
            f"{rng.randint(10, 59)}",
            f"Till {rng.randint(1, 6)}",
        ),
        *items,
    ]
    rows += [
        ("SUBTOTAL", _money(total)),
        ("VAT included", _money(vat)),
        ("TOTAL", _money(total)),
        ("Card payment", _money(total)),
        ("Thank you for shopping with us!", ""),
    ]
    placed: list[Placed] = []
    for i, (label, amount) in enumerate(rows):
        y = margin + i * pitch
        centred = not amount
        x = (width - font.getlength(label)) / 2 if centred else margin
        placed.append((x, y, label))
        if amount:
            placed.append((width - margin - font.getlength(amount), y, amount))
    height = round(2 * margin + len(rows) * pitch)
    return render(width, height, font, placed), [" ".join(r).strip() for r in rows]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def render(width: int, height: int, font: FontType, placed: Sequence[Placed]) -> Image.Image:
    """A white gray page with `placed` texts in black."""
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    for x, y, text in placed:
        draw.text((x, y), text, fill=0, font=font)
    return img


def degrade(
    img: Image.Image, family: str, rng: random.Random, dpi: int, rotation: int
) -> tuple[Image.Image, str]:
    """The scan of the drawn page for `family`, and the file format it is delivered in."""
    scale = dpi / 300
    nprng = np.random.default_rng(rng.getrandbits(32))
    if family == "skew":
        sign = rng.choice((-1, 1))
        img = img.rotate(sign * rng.uniform(0.7, 2.5), Image.Resampling.BICUBIC, fillcolor=255)
    elif family == "blur":
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1.4, 2.2) * scale))
    elif family == "noise":
        img = noisy(img.filter(ImageFilter.GaussianBlur(0.7 * scale)), nprng, rng.uniform(22, 34))
    elif family == "jpeg":
        return img.filter(ImageFilter.GaussianBlur(0.7 * scale)), "jpeg"
    elif family == "g4":
        blurred = img.filter(ImageFilter.GaussianBlur(0.9 * scale))
        return bilevel(blurred, nprng, rng.uniform(110, 175)), "g4"
    elif rotation:
        img = img.rotate(rotation, expand=True)
    return img, "png"


def noisy(img: Image.Image, nprng: np.random.Generator, sigma: float) -> Image.Image:
    """A tinted RGB scan: paper colour, Gaussian noise and a sprinkle of dark specks."""
    gray = np.asarray(img, dtype=np.float32) / 255.0
    paper = np.array([246.0, 241.0, 229.0], dtype=np.float32)
    rgb = gray[..., None] * paper + (1.0 - gray[..., None]) * 25.0
    rgb += nprng.normal(0.0, sigma, gray.shape)[..., None]
    specks = nprng.random(gray.shape) < 0.001
    rgb[specks] = 40.0
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def bilevel(img: Image.Image, nprng: np.random.Generator, threshold: float) -> Image.Image:
    """A fax-like 1-bit page: a fixed threshold (thin or fat strokes) over noisy gray."""
    gray = np.asarray(img, dtype=np.float32) + nprng.normal(0.0, 25.0, (img.height, img.width))
    return Image.fromarray(gray > threshold).convert("1")


def encode(img: Image.Image, fmt: str, dpi: int, rng: random.Random) -> tuple[bytes, str]:
    """The page as file bytes: PNG, JPEG (low quality) or CCITT G4 TIFF, dpi recorded."""
    out = io.BytesIO()
    if fmt == "jpeg":
        img.save(out, "JPEG", quality=rng.randint(12, 25), dpi=(dpi, dpi))
        return out.getvalue(), ".jpg"
    if fmt == "g4":
        img.save(out, "TIFF", compression="group4", dpi=(dpi, dpi))
        return out.getvalue(), ".tif"
    img.save(out, "PNG", dpi=(dpi, dpi))
    return out.getvalue(), ".png"
