"""PP-OCR pre- and post-processing in numpy/OpenCV: DB boxes, line crops, batches.

The same steps PaddleOCR and RapidOCR run around the PP-OCRv4 weights, written for speed on
whole A4 pages: the detector sees a page whose longest side is capped, line crops are cut
into windows the recogniser reads in batches. CTC decoding lives in `tool_ocr.layout`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper

Quad = np.ndarray  # 4 x 2 float32: top-left, top-right, bottom-right, bottom-left
Paper = tuple[float, ...]  # a colour, channel by channel

REC_HEIGHT = 48
SPECK_PIXELS = 2  # dark marks this small are noise, not text (see `despeckle`)
SPECK_BAND, SPECK_EDGE = 2048, 8  # rows despeckled at once, and rows seen beyond them
REC_STEP = 8  # recogniser pixels per CTC time step (PP-OCRv4: 320 px -> 40 steps)
# Line crops run this much of the line's height further at both ends: the recogniser needs a
# little room after the last character (a trailing comma or full stop on the crop's edge was
# lost: "copy," read "copy").
CROP_MARGIN = 0.3
# Window seams (recogniser pixels, line height 48): sought in the last GAP_SEARCH columns a
# window reaches, as GAP_WIDTH columns averaging at most GAP_INK ink pixels (a word gap, noise
# specks allowed). The two windows share GAP_ROOM columns each side of the seam: a window
# ending or starting on it read its edge as an 'I', or lost the space there; with 16 it read
# the letter before the seam again ("partiall"); 32 and 40 read the same, 32 a little faster.
GAP_SEARCH, GAP_WIDTH, GAP_INK, GAP_ROOM = 192, 9, 1.0, 32
INK = 0.25  # `ink_level` from which a pixel is ink: a quarter of the range from the paper
CLS_SHAPE = (48, 192)
CLS_ROWS = 12
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


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


def det_input(bgr: np.ndarray, limit: int) -> np.ndarray:
    """1 x 3 x H x W detector input: longest side <= `limit`, both sides multiples of 32."""
    h, w = bgr.shape[:2]
    ratio = min(1.0, limit / max(h, w))
    size = (max(32, round(w * ratio / 32) * 32), max(32, round(h * ratio / 32) * 32))
    small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    norm = (small.astype(np.float32) - _MEAN) / _STD
    return np.ascontiguousarray(norm.transpose(2, 0, 1)[None])


def db_quads(
    prob: np.ndarray,
    shape: tuple[int, int],
    thresh: float = 0.3,
    box_thresh: float = 0.6,
    unclip: float = 1.5,
) -> list[Quad]:
    """Text quads in page pixels from the DB probability map (H' x W') of a page `shape`.

    A region's score is the mean probability inside its own contour (PaddleOCR's "slow" mode),
    not inside its bounding rectangle: the rectangle of a thin, slightly skewed line holds
    much background, and whole lines of a skewed 300 dpi page scored 0.59 (dropped) where
    their contours scored 0.84."""
    mask = cv2.dilate((prob > thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale = np.array([shape[1] / prob.shape[1], shape[0] / prob.shape[0]], np.float32)
    quads = []
    for contour in contours[:1000]:
        box, side = _min_box(contour)
        if side < 3 or _mean_score(prob, contour.reshape(-1, 2)) < box_thresh:
            continue
        box, side = _min_box(_unclip(box, unclip))
        if side >= 5:
            quads.append(np.clip(box * scale, 0, [shape[1] - 1, shape[0] - 1]))
    return _joined(quads)


def _joined(quads: list[Quad]) -> list[Quad]:
    """`quads` with any two pieces of one line that overlap made one. Grown by the unclip
    ratio, the two parts of a line split at a wide gap ("Apples   Braeburn" on a receipt) can
    overlap, and the letters in both crops were read twice ("Apples" and "s Braeburn")."""
    out = list(quads)
    while len(out) > 1:
        low, high = np.array([q.min(0) for q in out]), np.array([q.max(0) for q in out])
        meet = ((low[:, None] < high[None]) & (low[None] < high[:, None])).all(axis=2)
        group = list(range(len(out)))  # union-find over the pieces that join
        for i, j in zip(*np.nonzero(np.triu(meet, 1)), strict=True):
            if _same_line(out[i], out[j]):
                group[_root(group, j)] = _root(group, i)
        roots = [_root(group, i) for i in range(len(out))]
        if len(set(roots)) == len(out):
            break
        out = [
            _min_box(np.vstack([q for q, r in zip(out, roots, strict=True) if r == root]))[0]
            for root in dict.fromkeys(roots)
        ]
    return out


def _root(group: list[int], i: int) -> int:
    while group[i] != i:
        i = group[i]
    return i


def _same_line(a: Quad, b: Quad) -> bool:
    """Whether b lies along a's line (centres less than half a line height apart across it)
    and the two overlap along it. Lines read top to bottom (tall quads) are left alone."""
    if is_tall(a) or is_tall(b):
        return False
    along = (a[1] - a[0]) / max(float(np.linalg.norm(a[1] - a[0])), 1e-6)
    across = np.array([-along[1], along[0]])
    height = min(abs(float((q[3] - q[0]) @ across)) for q in (a, b))
    if abs(float((a.mean(0) - b.mean(0)) @ across)) > height / 2:
        return False
    (a0, a1), (b0, b1) = ((float(p.min()), float(p.max())) for p in (a @ along, b @ along))
    return a0 < b1 and b0 < a1


def _min_box(points: np.ndarray) -> tuple[Quad, float]:
    rect = cv2.minAreaRect(points.reshape(-1, 1, 2).astype(np.float32))
    pts = sorted(cv2.boxPoints(rect).tolist(), key=lambda p: p[0])
    left = sorted(pts[:2], key=lambda p: p[1])
    right = sorted(pts[2:], key=lambda p: p[1])
    return np.array([left[0], right[0], right[1], left[1]], np.float32), min(rect[1])


def _mean_score(prob: np.ndarray, box: Quad) -> float:
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(box.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(box.max(0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(mask, [(box - [x0, y0]).astype(np.int32)], (1,))
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def _unclip(box: Quad, ratio: float) -> np.ndarray:
    area, length = cv2.contourArea(box), cv2.arcLength(box.reshape(-1, 1, 2), True)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box.astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    grown = offset.Execute(area * ratio / max(length, 1e-6))
    return np.array(grown[0] if grown else box, np.float32)


def crop(bgr: np.ndarray, quad: Quad) -> np.ndarray:
    """The quad's content warped to an upright rectangle (tall crops turned 90 degrees left)."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    out = cv2.warpPerspective(
        bgr,
        matrix,
        (max(width, 1), max(height, 1)),
        borderMode=cv2.BORDER_REPLICATE,
        flags=cv2.INTER_CUBIC,
    )
    return np.rot90(out) if height >= 1.5 * width else out


def lengthened(quad: Quad, shape: tuple[int, ...], margin: float = CROP_MARGIN) -> Quad:
    """`quad` grown along its long side by `margin` x its short side at each end, within a
    page of `shape` (height, width, ...)."""
    tall = is_tall(quad)
    along, across = quad[1] - quad[0], quad[3] - quad[0]
    if tall:
        along, across = across, along
    length = float(np.linalg.norm(along))
    if not margin or length == 0:
        return quad
    step = along / length * margin * float(np.linalg.norm(across))
    grown = quad.astype(np.float32)
    grown[[0, 1] if tall else [0, 3]] -= step  # the line's start...
    grown[[3, 2] if tall else [1, 2]] += step  # ... and its end
    return np.clip(grown, 0, [shape[1] - 1, shape[0] - 1]).astype(np.float32)


def is_tall(quad: Quad) -> bool:
    """Whether `crop` turns this quad (a line that runs top to bottom on the page)."""
    width = max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]))
    return bool(
        max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])) >= 1.5 * width
    )


def rec_image(image: np.ndarray) -> np.ndarray:
    """A line crop as the recogniser sees it: 3 x 48 x W float, aspect kept, in [-1, 1]."""
    width = max(1, int(np.ceil(REC_HEIGHT * image.shape[1] / image.shape[0])))
    resized = cv2.resize(image, (width, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
    return resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0


@dataclass(frozen=True)
class Window:
    """Columns start..stop of a line the recogniser reads at once; the glyphs it owns are those
    centred in own_from..own_to (neighbouring windows share a few columns for context)."""

    start: int
    stop: int
    own_from: float
    own_to: float


def windows(level: np.ndarray, size: int, overlap: int) -> list[Window]:
    """Windows at most `size` columns wide covering a line image, given its `ink_level`
    (48 x W).

    Each seam is put in the quietest stretch (fewest ink pixels: a gap between words) of the
    last GAP_SEARCH columns a window can reach: no character is cut or read twice. A line
    without such a gap there (one long word) is cut with `overlap` shared columns, split down
    the middle. Windows start on a CTC step (a multiple of REC_STEP columns).
    """
    width = level.shape[1]
    quiet = _quiet_columns(level) if width > size else np.zeros(0)
    spans: list[Window] = []
    start, own = 0, -1.0
    while width - start > size:
        reach = start + size - GAP_ROOM
        low = max(start + size // 2, reach - GAP_SEARCH)
        right = reach - 1 - int(np.argmin(quiet[low:reach][::-1]))  # rightmost quietest column
        if quiet[right] <= GAP_INK:
            left = right
            while left > low and quiet[left - 1] == quiet[right]:
                left -= 1
            cut = (left + right) // 2  # the middle of that quiet stretch
            spans.append(Window(start, cut + GAP_ROOM, own, cut))
            start, own = (cut - GAP_ROOM) // REC_STEP * REC_STEP, float(cut)
        else:
            spans.append(Window(start, start + size, own, start + size - overlap / 2))
            start, own = start + size - overlap, start + size - overlap / 2
    spans.append(Window(start, width, own, float("inf")))
    return spans


def _quiet_columns(level: np.ndarray) -> np.ndarray:
    """Per column, the mean count of ink pixels over the GAP_WIDTH columns around it."""
    ink = (level > INK).sum(axis=0).astype(np.float32)
    return np.convolve(ink, np.ones(GAP_WIDTH, np.float32) / GAP_WIDTH, mode="same")


def ink_level(image: np.ndarray) -> np.ndarray:
    """48 x W: how far each pixel of a recogniser line image (3 x 48 x W, in [-1, 1]) is from
    the line's background (its median), as a share of the full range: dark-on-light and
    light-on-dark lines alike."""
    gray = image[0] + image[1] + image[2]  # three times the mean, without a slow reduce
    return np.abs(gray - np.median(gray)) / 6


def rec_batch(pieces: list[np.ndarray], width: int, rows: int = 0) -> np.ndarray:
    """max(N, rows) x 3 x 48 x `width` recogniser input: the pieces left-aligned, zero padding
    right (and below, up to `rows`)."""
    batch = np.zeros((max(len(pieces), rows), 3, REC_HEIGHT, width), np.float32)
    for i, piece in enumerate(pieces):
        batch[i, :, :, : piece.shape[2]] = piece
    return batch


def cls_batch(crops: list[np.ndarray]) -> np.ndarray:
    """12 x 3 x 48 x 192 line-direction input (one shape for oneDNN): aspect kept, [-1, 1],
    zero padding right and below."""
    height, width = CLS_SHAPE
    batch = np.zeros((max(len(crops), CLS_ROWS), 3, height, width), np.float32)
    for i, image in enumerate(crops):
        w = min(width, max(1, int(np.ceil(height * image.shape[1] / image.shape[0]))))
        resized = cv2.resize(image, (w, height))
        batch[i, :, :, :w] = resized.transpose(2, 0, 1) / 127.5 - 1.0
    return batch
