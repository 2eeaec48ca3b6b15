"""The offline engine: the bundled weights on their runtimes, every stage our own.

Detection on the page with its longest side capped, a line-direction vote that turns pages
scanned at 90/180/270 degrees, recognition in windows batched by width (with a draft
recogniser, the words it doubts read again by the main one: `engine.reread`), then the line's
gaps, words and reading order. Nothing is downloaded.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from core.errors import EngineError, ModelError
from core.values import Line, Word
from engine import ink, orientation, reread, weights
from engine.ctc import Glyph, ctc_glyphs
from engine.detect import Quad, along, bounds, crop, db_quads, det_input, lengthened
from engine.interface import EngineConfig, Reading
from engine.order import reading_order
from engine.prepare import to_bgr
from engine.recognize import (
    REC_BATCH,
    REC_HEIGHT,
    REC_OVERLAP,
    REC_STEP,
    REC_WINDOW,
    WIDTH_STEP,
    Window,
    ink_level,
    join,
    rec_batch,
    rec_image,
    windows,
)
from engine.runtime import OnnxNet, PaddleNet, quiet_paddle, usable_threads
from engine.words import group_words

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.5  # lines read less surely than this on average are noise (as RapidOCR)
Piece = tuple[int, Window]  # a line's index and one of its windows (or a stretch read again)
WindowRead = tuple[list[Glyph], np.ndarray]  # a window's glyphs and probabilities


class BundledEngine:
    """Detection, orientation and recognition with the bundled weights (`engine.weights`)."""

    def __init__(self, config: EngineConfig) -> None:
        self._set = weights.weight_set(config.weights)
        self._rules = config.rules
        self._chars: dict[str, list[str]] = {}
        try:
            threads = usable_threads(config.threads)
            self._nets = {}
            for role, net in self._set.nets().items():
                classes = None
                if role in ("rec", "draft"):
                    self._chars[role], classes = weights.charset(config, role)
                self._nets[role] = _net(net, threads, classes)
        except ModelError:
            raise
        except Exception as exc:  # any loader failure is an installation problem
            raise ModelError(f"could not load the bundled models: {exc}") from exc
        self._warm_up()
        self._lock = threading.Lock()
        self.info = weights.engine_info(config)
        log.info("OCR engine ready: %s %s %s", self.info.name, self.info.version, self.info.models)

    def read(self, image: np.ndarray) -> Reading:
        """The page's lines (pixel boxes of the upright raster) and the rotation applied."""
        bgr = to_bgr(image)
        try:
            with self._lock:
                quads = self._detect(bgr)
                rotation = orientation.turn(
                    bgr, quads, lambda batch: self._run("cls", batch), self._sureness
                )
                if rotation:
                    bgr = np.ascontiguousarray(np.rot90(bgr, rotation // 90))
                    quads = self._detect(bgr)
                return Reading(self._recognize(bgr, quads), rotation)
        except MemoryError as exc:
            raise EngineError(f"out of memory during OCR of a {image.shape} page") from exc
        except (ValueError, RuntimeError) as exc:  # the runtimes report failures as these
            raise EngineError(f"inference failed: {type(exc).__name__}: {exc}") from exc

    def _warm_up(self) -> None:
        """Run each model once on its largest input. Paddle's allocator then serves every
        smaller shape from that memory; smallest first, each new width grew the process by
        hundreds of MB."""
        limit = self._set.detection.limit
        self._run("det", np.zeros((1, 3, limit, limit), np.float32))
        for role in self._chars:
            self._run(role, np.zeros((REC_BATCH, 3, REC_HEIGHT, REC_WINDOW), np.float32))
        self._run("cls", np.zeros((orientation.SAMPLE, 3, *orientation.CLS_SHAPE), np.float32))

    def _run(self, role: str, batch: np.ndarray) -> np.ndarray:
        return self._nets[role].run(batch)

    def _read(self, parts: list[np.ndarray], role: str = "rec") -> np.ndarray:
        """Recogniser probabilities for up to REC_BATCH line images (one batch of REC_BATCH
        rows, as wide as the widest rounded up to WIDTH_STEP)."""
        width = -(-max(p.shape[2] for p in parts) // WIDTH_STEP) * WIDTH_STEP
        return self._run(role, rec_batch(parts, width, REC_BATCH))

    def _detect(self, bgr: np.ndarray) -> list[Quad]:
        found = self._set.detection
        prob = self._run("det", det_input(bgr, found.limit))[0, 0]
        return db_quads(prob, bgr.shape[:2], found.thresh, found.box_thresh, found.unclip)

    def _sureness(self, crops: list[np.ndarray]) -> float:
        """Mean peak probability of the non-blank steps the recogniser reads in `crops`."""
        parts = [rec_image(c)[:, :, :REC_WINDOW] for c in crops]
        probs = self._read(parts, self._first)[: len(parts)]
        best = probs.argmax(2)
        return float(probs.max(2)[best > 0].mean()) if (best > 0).any() else 0.0

    def _recognize(self, bgr: np.ndarray, quads: list[Quad]) -> list[Line]:
        """Lines for `quads`, in reading order: crops, their glyphs, their ink, their words."""
        reads = [lengthened(q, bgr.shape) for q in quads]
        images = [rec_image(crop(bgr, r)) for r in reads]
        levels = [ink_level(image) for image in images]  # for seams and ink checks
        glyphs = self._decode(images, levels)
        lines = (
            self._line(ink.checked(g, level, self._rules), quad, read, image.shape[2])
            for g, level, quad, read, image in zip(
                glyphs, levels, quads, reads, images, strict=True
            )
        )
        return reading_order([line for line in lines if line is not None])

    @property
    def _first(self) -> str:
        """The recogniser that reads every line first: the draft one when the set has one."""
        return "draft" if "draft" in self._nets else "rec"

    def _decode(self, images: list[np.ndarray], levels: list[np.ndarray]) -> list[list[Glyph]]:
        """Each line's glyphs: its windows read widest first (batches of like widths pad
        least), REC_BATCH at a time, then joined at their seams. With a draft recogniser, the
        words it doubts are read again by the main one (`_reread`)."""
        pieces = [
            (i, window)
            for i, level in enumerate(levels)
            for window in windows(level, REC_WINDOW, REC_OVERLAP)
        ]
        pieces.sort(key=lambda p: p[1].start - p[1].stop)
        read = self._read_pieces(images, pieces, self._first)
        if self._first == "draft":
            glyphs = self._reread(images, pieces, read)
        else:
            glyphs = [g for g, _ in read]
        found: list[list[tuple[Window, list[Glyph]]]] = [[] for _ in images]
        for (i, window), one in zip(pieces, glyphs, strict=True):
            found[i].append((window, one))
        return [join(one) for one in found]

    def _reread(
        self, images: list[np.ndarray], pieces: list[Piece], read: list[WindowRead]
    ) -> list[list[Glyph]]:
        """Each window's glyphs, with the words the draft doubts (`engine.reread`) read again
        by the main recogniser, the crops widest first."""
        doubt = self._set.doubt
        again: list[tuple[int, reread.Span]] = []  # (window, the steps read again)
        for k, ((_, window), (glyphs, probs)) in enumerate(zip(pieces, read, strict=True)):
            first = window.start // REC_STEP
            points = reread.doubts(glyphs, probs, first, doubt)
            again += [(k, s) for s in reread.spans(glyphs, points, first, first + len(probs))]
        crops = []
        for k, span in again:
            line = pieces[k][0]
            start, stop = reread.columns(span, REC_STEP, images[line].shape[2])
            crops.append((line, Window(start, stop, 0.0, 0.0)))
        order = sorted(range(len(crops)), key=lambda j: crops[j][1].start - crops[j][1].stop)
        better = self._read_pieces(images, [crops[j] for j in order], "rec")
        second: list[list[tuple[reread.Span, list[Glyph]]]] = [[] for _ in pieces]
        for j, (glyphs, _) in sorted(zip(order, better, strict=True), key=lambda x: x[0]):
            k, span = again[j]
            second[k].append((span, glyphs))
        return [
            reread.splice(glyphs, spans) if spans else glyphs
            for (glyphs, _), spans in zip(read, second, strict=True)
        ]

    def _read_pieces(
        self, images: list[np.ndarray], pieces: list[Piece], role: str
    ) -> list[WindowRead]:
        """What `role` reads in each (line, window) of `pieces`, REC_BATCH at a time: the
        window's glyphs and its probabilities (steps x classes)."""
        out: list[WindowRead] = []
        for first in range(0, len(pieces), REC_BATCH):
            chunk = pieces[first : first + REC_BATCH]
            probs = self._read([images[i][:, :, w.start : w.stop] for i, w in chunk], role)
            for (_, window), p in zip(chunk, probs, strict=False):
                p = p[: -(-(window.stop - window.start) // REC_STEP)]
                out.append((self._glyphs(p, window, role), p))
        return out

    def _glyphs(self, probs: np.ndarray, window: Window, role: str) -> list[Glyph]:
        """One window's glyphs, their spans in time steps of the whole line."""
        doubles = "doubles" in self._rules
        return ctc_glyphs(probs, self._chars[role], None, window.start // REC_STEP, doubles)

    def _line(self, glyphs: list[Glyph], quad: Quad, read: Quad, total: int) -> Line | None:
        """The line detected as `quad`, read from the crop of `read` (`total` recogniser pixels
        wide), or None for noise. Its confidence is its weakest word's: a line is only as sure
        as its least sure word ("PLEASE CO E AGAI!" read 0.88 on average, 0.27 at "CO")."""
        mean = float(np.mean([g.confidence for g in glyphs if not g.char.isspace()] or [0.0]))
        words = group_words(glyphs, self._rules)
        if mean < MIN_CONFIDENCE or not words:
            return None
        span = REC_STEP / total  # crop fraction per CTC step
        boxed = tuple(
            Word(text, conf, along(read, first * span, end * span))
            for text, first, end, conf in words
        )
        confidence = min(w.confidence for w in boxed)
        return Line(" ".join(w.text for w in boxed), confidence, bounds(quad), boxed)


def _net(net: weights.Net, threads: int, classes: list[int] | None) -> OnnxNet | PaddleNet:
    """`net` loaded on its runtime (Paddle is imported only for Paddle weights)."""
    if net.runtime == "onnx":
        return OnnxNet(weights.net_path(net), threads, classes)
    quiet_paddle()
    return PaddleNet(weights.net_path(net), threads, classes)
