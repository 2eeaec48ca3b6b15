"""PaddleOCR 3.x's own pipeline, for `models="download"` (PaddleOCR fetches its default models).

The offline default is `engine.bundled.BundledEngine`, which calls the bundled weights through
Paddle Inference directly, several times faster on the same weights (docs/engine.md).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Any

import numpy as np

from core.errors import EngineError, ModelError
from core.values import Line
from engine.interface import EngineConfig, Reading
from engine.order import reading_order
from engine.prepare import to_bgr
from engine.runtime import quiet_paddle
from engine.weights import engine_info

log = logging.getLogger(__name__)


def pipeline_options(config: EngineConfig) -> dict[str, Any]:
    """Keyword arguments for `paddleocr.PaddleOCR` (line direction on, no page unwarping)."""
    return dict(
        use_doc_orientation_classify=False,
        use_doc_unwarping=False,
        use_textline_orientation=True,
        device="cpu",
        cpu_threads=config.threads,
        lang=config.lang,
    )


class PaddleOcrPipeline:
    """PaddleOCR's pipeline: detection, line direction, recognition with its own models."""

    def __init__(self, config: EngineConfig) -> None:
        quiet_paddle()
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        warnings.filterwarnings("ignore", message="No ccache found")
        from paddleocr import PaddleOCR

        logging.getLogger("paddlex").setLevel(logging.WARNING)  # one line per model load
        try:
            self._ocr = PaddleOCR(**pipeline_options(config))
        except Exception as exc:  # any loader failure is an installation problem
            raise ModelError(f"PaddleOCR could not load its models: {exc}") from exc
        self._lock = threading.Lock()
        self.info = engine_info(config)
        log.info("OCR engine ready: %s %s %s", self.info.name, self.info.version, self.info.models)

    def read(self, image: np.ndarray) -> Reading:
        """Lines in reading order with pixel boxes of `image` as given (this pipeline does not
        turn pages)."""
        bgr = to_bgr(image)
        try:
            with self._lock:
                result = next(iter(self._ocr.predict(bgr)))
        except MemoryError as exc:
            raise EngineError(f"out of memory during OCR of a {image.shape} page") from exc
        except Exception as exc:
            raise EngineError(f"PaddleOCR failed: {type(exc).__name__}: {exc}") from exc
        return Reading(reading_order(_lines(result)), 0)


def _lines(result: Any) -> list[Line]:
    lines = []
    for text, score, poly in zip(
        result["rec_texts"], result["rec_scores"], result["rec_polys"], strict=True
    ):
        if text.strip():
            xs, ys = poly[:, 0], poly[:, 1]
            box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
            lines.append(Line(text=text.strip(), confidence=float(score), box=box))
    return lines
