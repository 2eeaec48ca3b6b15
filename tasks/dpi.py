"""The dpi of an image page: what its file declares, or a guess from its pixel size.

Only the page size in the searchable PDF and the points of the boxes follow from it; the raster
the engine reads is the image's own pixels either way. A scan saved without dpi is most often a
whole sheet of a common paper size at a common scanner resolution, so a pixel size that matches
one (within PAPER_TOLERANCE) gives its dpi. Any other image is fitted to a page that fits on A4
and Letter both, as a print dialog would, within FIT_DPI.
"""

from __future__ import annotations

import math

SANE_DPI = (50.0, 2400.0)
MM = 1 / 25.4  # inches
# Width x height in inches, portrait. Receipts: thermal rolls and their print widths, any length.
PAPERS = {
    "A3": (297 * MM, 420 * MM),
    "A4": (210 * MM, 297 * MM),
    "A5": (148 * MM, 210 * MM),
    "A6": (105 * MM, 148 * MM),
    "B5": (176 * MM, 250 * MM),
    "Letter": (8.5, 11.0),
    "Legal": (8.5, 14.0),
    "Executive": (7.25, 10.5),
    "Statement": (5.5, 8.5),
}
RECEIPT_WIDTHS = {"80 mm roll": 80 * MM, "72 mm print": 72 * MM, "58 mm roll": 58 * MM}
SCAN_DPIS = (72, 75, 96, 100, 120, 150, 200, 240, 300, 400, 600)
RECEIPT_DPIS = (180, 203, 300)  # thermal printers print at 180 or 203 dpi
PAPER_TOLERANCE = 0.015  # a sheet's sides within 1.5 % of the paper's at that dpi
RECEIPT_TOLERANCE = 0.03  # a receipt's width within 3 % (scanned receipts are cropped by hand)
FIT_PAGE = (210 * MM, 11.0)  # fits A4 (narrower) and Letter (shorter)
FIT_DPI = (72.0, 600.0)  # a tiny image is not blown up past a page at 72 dpi


def image_dpi(info: dict, size: tuple[int, int]) -> tuple[float, float]:
    """(x, y) dpi of an image with Pillow `info` and `size` (w, h) pixels as stored.

    An implausible declared value is replaced by the other axis's; with neither, the dpi is
    guessed from the size (see the module's doc).
    """
    try:
        values = [round(float(v), 1) for v in info.get("dpi", ())][:2]  # PNG: 299.9994
    except (TypeError, ValueError, ZeroDivisionError):
        values = []
    sane = [v if SANE_DPI[0] <= v <= SANE_DPI[1] else None for v in values] or [None]
    x, y = sane[0], sane[-1]
    if x or y:
        return (x or y or 0.0, y or x or 0.0)
    guess = guess_dpi(*size)
    return guess, guess


def guess_dpi(width: int, height: int) -> float:
    """The dpi at which `width` x `height` pixels are a common paper size, else the dpi that
    fits them on A4 and Letter (turned to landscape when wider than tall)."""
    return paper_dpi(width, height) or receipt_dpi(width, height) or fitted_dpi(width, height)


def paper_dpi(width: int, height: int) -> float | None:
    """The scan dpi at which the image is a whole sheet of a known paper size, best match."""
    short, long = sorted((width, height))
    candidates = [
        (max(abs(short / (w * dpi) - 1), abs(long / (h * dpi) - 1)), dpi)
        for w, h in PAPERS.values()
        for dpi in SCAN_DPIS
    ]
    error, dpi = min(candidates)
    return float(dpi) if error <= PAPER_TOLERANCE else None


def receipt_dpi(width: int, height: int) -> float | None:
    """The dpi at which a tall, narrow image is a till receipt's width, best match."""
    if height < 1.5 * width:
        return None
    candidates = [
        (abs(width / (w * dpi) - 1), dpi)
        for w in RECEIPT_WIDTHS.values()
        for dpi in (*RECEIPT_DPIS, *SCAN_DPIS)
    ]
    error, dpi = min(candidates)
    return float(dpi) if error <= RECEIPT_TOLERANCE else None


def fitted_dpi(width: int, height: int) -> float:
    """The dpi at which the image just fits FIT_PAGE, bounded to FIT_DPI (whole dpi, rounded
    up so that it fits)."""
    short, long = sorted((width, height))
    dpi = math.ceil(max(short / FIT_PAGE[0], long / FIT_PAGE[1]))
    return float(min(max(dpi, FIT_DPI[0]), FIT_DPI[1]))
