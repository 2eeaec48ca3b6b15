"""The OCR engine, a package of its own: it knows nothing of Prefect, DuckDB or the hot folder.

`get_engine(config).read(image)` returns a page's lines in reading order with pixel boxes and
the rotation that made it upright. The engine is loaded once per process and reused. Stages,
one module each: `prepare` (the page), `detect` (lines), `orientation`, `recognize` (crops,
windows, CTC), `words` (spaces), `ink` (gaps), `corrections`, `order` (reading order);
`weights` says which weights, `runtime` runs them (onnxruntime or Paddle), `fold` simplifies
Paddle's at load, `rules` names the correction rules that can be switched off.
"""

from __future__ import annotations

import threading

from core.values import EngineInfo
from engine.interface import EngineConfig, ModelSource, OcrEngine, Reading

__all__ = ["EngineConfig", "ModelSource", "OcrEngine", "Reading", "engine_info", "get_engine"]

_engines: dict[EngineConfig, OcrEngine] = {}
_lock = threading.Lock()


def get_engine(config: EngineConfig) -> OcrEngine:
    """The process-wide engine for `config`, loaded on first use."""
    with _lock:
        engine = _engines.get(config)
        if engine is None:
            engine = _engines[config] = _load(config)
        return engine


def _load(config: EngineConfig) -> OcrEngine:
    """Paddle is imported here only: the direct engine offline, PaddleOCR's for downloads."""
    if config.models == "bundled":
        from engine.bundled import BundledEngine

        return BundledEngine(config)
    from engine.downloaded import PaddleOcrPipeline

    return PaddleOcrPipeline(config)


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs (engine, version, models), without loading it."""
    from engine.weights import engine_info as describe

    return describe(config)
