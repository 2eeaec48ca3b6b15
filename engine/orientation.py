"""Orientation: which way up a page is, from its longest lines.

The line-direction classifier (0 or 180 degrees) votes over the longest detected lines; most
boxes taller than wide means the page lies sideways. Any turn proposed is confirmed by the
recogniser, which reads right-way-up lines far more surely.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from engine.detect import Quad, crop, is_tall, length

CLS_SHAPE = (48, 192)
CLS_ROWS = 12


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


SAMPLE = CLS_ROWS  # the longest lines the vote looks at
CHECKED = 4  # of those, the lines the recogniser reads to confirm a turn (one batch)


def turn(
    bgr: np.ndarray,
    quads: list[Quad],
    classify: Callable[[np.ndarray], np.ndarray],
    sureness: Callable[[list[np.ndarray]], float],
) -> int:
    """Degrees counter-clockwise that make the page upright, from its longest lines.

    Most boxes taller than wide: the page lies sideways (tall crops are turned left). The
    line classifier's (`classify`) weighted vote says 0 or 180 degrees more; any turn it
    proposes is checked with the recogniser (`sureness`: its mean peak probability on crops),
    which reads right-way-up lines far more surely (the classifier alone turned a noisy
    upright page over)."""
    sample = sorted(quads, key=length, reverse=True)[:SAMPLE]
    tall = sum(is_tall(q) for q in sample) > len(sample) / 2
    crops = [crop(bgr, q) for q in sample if is_tall(q) == tall]
    if not crops:
        return 0
    probs = classify(cls_batch(crops))[: len(crops)]  # columns: 0, 180 degrees
    flipped = float(probs[:, 1].sum()) > float(probs[:, 0].sum())
    if flipped or tall:
        check = crops[:CHECKED]
        turned = [np.ascontiguousarray(np.rot90(c, 2)) for c in check]
        flipped = sureness(turned) > sureness(check)
    return (270 if flipped else 90) if tall else (180 if flipped else 0)
