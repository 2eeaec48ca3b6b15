"""The page before detection: BGR as the models take it.

Painting over 1-2 pixel specks (scanner and fax noise read as full stops on generated pages)
lost on the real development set: it took dots and decimal points of small scanned type with
them (docs/engine.md, "Corrections"), and is gone."""

from __future__ import annotations

import numpy as np


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A gray or RGB page raster as contiguous BGR, as OpenCV and the models take it."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image[:, :, 2::-1])
