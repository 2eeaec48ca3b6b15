"""Recognition: line crops as the recogniser sees them, cut into windows, batched, CTC-decoded.

A line image is 48 px high; lines wider than `REC_WINDOW` are read in windows whose seams lie in
gaps between words; each window's probabilities are decoded greedily into glyphs that keep
their time-step span, the space probability before them, and the other kind's likeliest
character (what `engine.words` and `engine.corrections` decide with).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.ctc import Glyph

REC_HEIGHT = 48
REC_STEP = 8  # recogniser pixels per CTC time step (PP-OCRv4: 320 px -> 40 steps)
# Recogniser batches: windows widest first, REC_BATCH at a time (the last one padded with
# empty rows, so only widths vary), padded to a multiple of WIDTH_STEP: few input shapes, so
# oneDNN's kernels are reused, and little padding, which the recogniser's attention also sees.
REC_BATCH = 4
WIDTH_STEP = 64
# Recogniser input at most this wide (px): longer lines are read in windows (`windows`: seams
# in word gaps, else REC_OVERLAP shared columns). Paddle grows by a gigabyte or more at each
# new input width past about 1000 px; within 960 px its memory stays flat.
REC_WINDOW = 960
REC_OVERLAP = 96  # columns two windows share where no word gap is found (three characters)
# Window seams (recogniser pixels, line height 48): sought in the last GAP_SEARCH columns a
# window reaches, as GAP_WIDTH columns averaging at most GAP_INK ink pixels (a word gap, noise
# specks allowed). The two windows share GAP_ROOM columns each side of the seam: a window
# ending or starting right on it misreads its edge.
GAP_SEARCH, GAP_WIDTH, GAP_INK, GAP_ROOM = 192, 9, 1.0, 32
INK = 0.25  # `ink_level` from which a pixel is ink: a quarter of the range from the paper


def rec_image(image: np.ndarray) -> np.ndarray:
    """A line crop as the recogniser sees it: 3 x 48 x W float, aspect kept, in [-1, 1]."""
    width = max(1, int(np.ceil(REC_HEIGHT * image.shape[1] / image.shape[0])))
    resized = cv2.resize(image, (width, REC_HEIGHT), interpolation=cv2.INTER_LINEAR)
    return resized.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0


@dataclass(frozen=True)
class Window:
    """Columns start..stop of a line the recogniser reads at once; the glyphs it owns are those
    centred in own_from..own_to (neighbouring windows share a few columns for context)."""

    start: int
    stop: int
    own_from: float
    own_to: float


def windows(level: np.ndarray, size: int, overlap: int) -> list[Window]:
    """Windows at most `size` columns wide covering a line image, given its `ink_level`
    (48 x W).

    Each seam is put in the quietest stretch (fewest ink pixels: a gap between words) of the
    last GAP_SEARCH columns a window can reach: no character is cut or read twice. A line
    without such a gap there (one long word) is cut with `overlap` shared columns, split down
    the middle. Windows start on a CTC step (a multiple of REC_STEP columns).
    """
    width = level.shape[1]
    quiet = _quiet_columns(level) if width > size else np.zeros(0)
    spans: list[Window] = []
    start, own = 0, -1.0
    while width - start > size:
        cut = _word_gap(quiet, start, size)
        if cut is not None:
            spans.append(Window(start, cut + GAP_ROOM, own, cut))
            start, own = (cut - GAP_ROOM) // REC_STEP * REC_STEP, float(cut)
        else:  # one long word: shared columns, each window owning its half of them
            middle = start + size - overlap / 2
            spans.append(Window(start, start + size, own, middle))
            start, own = start + size - overlap, middle
    spans.append(Window(start, width, own, float("inf")))
    return spans


def _word_gap(quiet: np.ndarray, start: int, size: int) -> int | None:
    """Where to cut a window starting at `start`: the middle of the rightmost quietest stretch
    among the last GAP_SEARCH columns it can reach (leaving GAP_ROOM columns of context after
    the seam), or None when even that stretch holds ink (a word longer than the search)."""
    reach = start + size - GAP_ROOM
    low = max(start + size // 2, reach - GAP_SEARCH)
    right = reach - 1 - int(np.argmin(quiet[low:reach][::-1]))  # rightmost quietest column
    if quiet[right] > GAP_INK:
        return None
    left = right
    while left > low and quiet[left - 1] == quiet[right]:
        left -= 1
    return (left + right) // 2


def _quiet_columns(level: np.ndarray) -> np.ndarray:
    """Per column, the mean count of ink pixels over the GAP_WIDTH columns around it."""
    ink = (level > INK).sum(axis=0).astype(np.float32)
    return np.convolve(ink, np.ones(GAP_WIDTH, np.float32) / GAP_WIDTH, mode="same")


def ink_level(image: np.ndarray) -> np.ndarray:
    """48 x W: how far each pixel of a recogniser line image (3 x 48 x W, in [-1, 1]) is from
    the line's background (its median), as a share of the full range: dark-on-light and
    light-on-dark lines alike."""
    gray = image[0] + image[1] + image[2]  # three times the mean, without a slow reduce
    return np.abs(gray - np.median(gray)) / 6


def rec_batch(pieces: list[np.ndarray], width: int, rows: int = 0) -> np.ndarray:
    """max(N, rows) x 3 x 48 x `width` recogniser input: the pieces left-aligned, zero padding
    right (and below, up to `rows`)."""
    batch = np.zeros((max(len(pieces), rows), 3, REC_HEIGHT, width), np.float32)
    for i, piece in enumerate(pieces):
        batch[i, :, :, : piece.shape[2]] = piece
    return batch


def join(windows: list[tuple[Window, list[Glyph]]]) -> list[Glyph]:
    """A line's glyphs from its windows: each window's own share (glyphs centred in it).

    At a seam (in a gap between words) the space the decoder wrote may sit in neither share:
    one read by either window between the two shares is kept once. Just past a seam, a window
    sometimes reads again the last letter before it ("partiall"): less than two steps apart
    it is the same one (two real equal letters stand further apart, with a blank between)."""
    out: list[Glyph] = []
    before: list[Glyph] = []
    for window, glyphs in sorted(windows, key=lambda w: w[0].start):
        own = [g for g in glyphs if window.own_from <= g.center * REC_STEP < window.own_to]
        if out and own:
            if own[0].char == out[-1].char and own[0].center - out[-1].center < 2:
                own = own[1:]
            gap = (
                [
                    g
                    for g in before + glyphs
                    if g.char.isspace() and out[-1].center < g.center < own[0].center
                ]
                if own
                else []
            )
            if gap and not (out[-1].char.isspace() or own[0].char.isspace()):
                out.append(max(gap, key=lambda g: g.confidence))
        out += own
        before = glyphs
    return out
