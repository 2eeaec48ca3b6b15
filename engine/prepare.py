"""The page before detection: BGR as the models take it, scanner specks painted over."""

from __future__ import annotations

import itertools

import cv2
import numpy as np

Paper = tuple[float, ...]  # a colour, channel by channel

SPECK_PIXELS = 2  # dark marks this small are noise, not text (see `despeckle`)

SPECK_BAND, SPECK_EDGE = 2048, 8  # rows despeckled at once, and rows seen beyond them


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A gray or RGB page raster as contiguous BGR, as OpenCV and the models take it."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image[:, :, 2::-1])


def despeckle(bgr: np.ndarray, largest: int = SPECK_PIXELS) -> np.ndarray:
    """`bgr` with isolated dark specks of at most `largest` pixels painted over with the
    paper colour. Scanner and fax noise is read as full stops otherwise ("the." for "the"); a
    real full stop is 6+ pixels even at 200 dpi (bench pages: specks 1-2 pixels, the smallest
    mark of text 6). On the page, before any resampling blurs specks into bigger marks; in
    bands of SPECK_BAND rows, so a poster-sized page needs no page-sized label image."""
    out = bgr
    for top in range(0, bgr.shape[0], SPECK_BAND):
        low, high = max(0, top - SPECK_EDGE), min(bgr.shape[0], top + SPECK_BAND + SPECK_EDGE)
        for y, x, paper in _specks(bgr[low:high], largest):
            inside = (y + low >= top) & (y + low < top + SPECK_BAND)  # the band's own rows
            if out is bgr:
                out = bgr.copy()
            out[y[inside] + low, x[inside]] = paper
    return out


def _specks(bgr: np.ndarray, largest: int) -> list[tuple[np.ndarray, np.ndarray, Paper]]:
    """The pixels (rows, columns) of the specks in `bgr`, and its paper colour."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    ids = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= largest)
    ids = ids[ids > 0]  # label 0 is the paper
    if not len(ids):
        return []
    paper = tuple(cv2.mean(bgr, mask=cv2.bitwise_not(ink))[:3])
    x, y = stats[ids, cv2.CC_STAT_LEFT], stats[ids, cv2.CC_STAT_TOP]
    found = []
    for dy, dx in itertools.product(range(largest), repeat=2):  # each speck's bounding box
        ys, xs = np.minimum(y + dy, gray.shape[0] - 1), np.minimum(x + dx, gray.shape[1] - 1)
        hit = labels[ys, xs] == ids
        found.append((ys[hit], xs[hit], paper))
    return found
