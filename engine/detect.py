"""Detection: the DB network's probability map made into text-line quads, and their geometry.

The same steps PaddleOCR and RapidOCR run around the DB weights, written for speed on whole
pages: the detector sees the page with its longest side capped (`weights.Detection.limit`);
a region is scored inside its own outline; pieces of one line are joined.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyclipper

from core.values import Box

Quad = np.ndarray  # 4 x 2 float32: top-left, top-right, bottom-right, bottom-left

# Line crops run this much of the line's height further at both ends: the recogniser needs a
# little room after the last character (a trailing comma or full stop on the crop's edge was
# lost: "copy," read "copy").
CROP_MARGIN = 0.3
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


def det_input(bgr: np.ndarray, limit: int) -> np.ndarray:
    """1 x 3 x H x W detector input: longest side <= `limit`, both sides multiples of 32."""
    h, w = bgr.shape[:2]
    ratio = min(1.0, limit / max(h, w))
    size = (max(32, round(w * ratio / 32) * 32), max(32, round(h * ratio / 32) * 32))
    small = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    planes = [(small[:, :, c] - _MEAN[c]) * (1 / _STD[c]) for c in range(3)]  # float32, planar
    return np.stack(planes)[None].astype(np.float32, copy=False)


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


def along(quad: Quad, u0: float, u1: float) -> Box:
    """Pixel box of the part of `quad` between fractions u0..u1 along its reading direction
    (axis-aligned approximation)."""
    tl, tr, br, bl = quad
    if is_tall(quad):  # its crop was turned left: it reads from tr down to br
        tl, tr, br, bl = tr, br, bl, tl
    u0, u1 = max(0.0, min(u0, 1.0)), max(0.0, min(u1, 1.0))
    points = np.array(
        [tl + u0 * (tr - tl), tl + u1 * (tr - tl), bl + u0 * (br - bl), bl + u1 * (br - bl)]
    )
    return bounds(points)


def bounds(points: np.ndarray) -> Box:
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    return (float(x0), float(y0), float(x1), float(y1))


def length(quad: Quad) -> float:
    return float(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[0] - quad[3])))
