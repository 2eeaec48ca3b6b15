"""Second reading of the words the first recogniser doubts.

A weight set with a draft recogniser (`weights.WeightSet.draft`) reads every line with it, a
small and fast network; only the words it doubts are read again by the main one, which reads
better and costs several times more a column. A word is doubted for:

- a character read less surely than `Doubt.sure` (its peak probability);
- a space the draft gave at least `Doubt.space` in the gap between two characters without
  writing it ("wi th", "3 10" and "GREENWAYMARKET" alike: the space decision is the draft's
  weakest);
- a run of one letter whose odds of being two letters (`ctc.double_odds`) lie within
  `Doubt.double` of even.

A doubted word is the stretch between the spaces the draft wrote around the doubt. It is read
again with CONTEXT pixels of the line either side, and the main recogniser's glyphs inside the
stretch replace the draft's (`splice`); the spaces around it stay the draft's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.ctc import Glyph, double_odds, runs

CONTEXT = 64  # line-image columns read either side of a doubted word (eight CTC steps)
EDGE_STEPS = 2  # how far apart the two readings may put one space
Span = tuple[int, int]  # time steps start..end of a line


@dataclass(frozen=True)
class Doubt:
    """When the draft's reading of a word is doubted (see the module's docstring)."""

    sure: float  # a character below this peak probability
    space: float  # an unwritten space with at least this probability
    double: float  # double-letter odds between this and its inverse


def doubts(glyphs: Sequence[Glyph], probs: np.ndarray, offset: int, doubt: Doubt) -> list[float]:
    """The time steps (of the line) where the draft's reading of one window is doubtful, from
    its glyphs and its probabilities (steps x classes, the window starting at step
    `offset`)."""
    points = []
    before: Glyph | None = None
    for glyph in glyphs:
        if not glyph.char.isspace():
            if glyph.confidence < doubt.sure:
                points.append(glyph.center)
            if before and not before.char.isspace() and (glyph.space or 0.0) >= doubt.space:
                points.append(float(glyph.start))
        before = glyph
    best = probs.argmax(axis=1)
    for start, end in runs(probs, best, doubles=False):
        if end - start >= 3:
            odds = double_odds(probs[start:end, best[start]], probs[start:end, 0])
            if doubt.double < odds < 1 / doubt.double:
                points.append((start + end) / 2 + offset)
    return sorted(points)


def spans(glyphs: Sequence[Glyph], points: Sequence[float], first: int, last: int) -> list[Span]:
    """The words around `points`: each from the end of the written space before it to the
    start of the one after (the window's steps `first`..`last` where there is none), words
    that meet made one."""
    spaces = [g for g in glyphs if g.char.isspace()]
    out: list[Span] = []
    for point in points:
        start = max([s.end for s in spaces if s.center <= point], default=first)
        end = min([s.start for s in spaces if s.center > point], default=last)
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def columns(span: Span, step: int, width: int) -> tuple[int, int]:
    """The line-image columns read again for `span` (steps of `step` columns): CONTEXT more
    either side within the line's `width`, starting on a step so that the steps line up."""
    start = max(0, span[0] * step - CONTEXT) // step * step
    return start, min(width, span[1] * step + CONTEXT)


def splice(
    draft: Sequence[Glyph], spans_read: Sequence[tuple[Span, Sequence[Glyph]]]
) -> list[Glyph]:
    """`draft` with the glyphs of each span replaced by those its second reading puts there.

    The two recognisers place a character a step or so apart, so the second reading's stretch
    is taken between its own spaces where it wrote them beside the draft's (`_edge`): a
    word's last letter put on the draft's space is neither lost nor read twice."""
    out: list[Glyph] = []
    done = -math.inf
    for (start, end), better in spans_read:
        out += [g for g in draft if done <= g.center < start]
        first, last = _edge(draft, better, start), _edge(draft, better, end)
        out += [g for g in better if first <= g.center < last and not _edge_space(g, first)]
        done = end
    return out + [g for g in draft if g.center >= done]


def _edge(draft: Sequence[Glyph], better: Sequence[Glyph], step: int) -> float:
    """Where the second reading's stretch starts or ends for the draft's span edge `step`: the
    middle of the space it wrote within EDGE_STEPS of the draft's space there, else `step`."""
    at = [g.center for g in draft if g.char.isspace() and (g.end == step or g.start == step)]
    if not at:
        return step
    near = [g for g in better if g.char.isspace() and abs(g.center - at[0]) <= EDGE_STEPS]
    return min(near, key=lambda g: abs(g.center - at[0])).center if near else step


def _edge_space(glyph: Glyph, first: float) -> bool:
    """The space the stretch starts at: the draft's own stands for it."""
    return glyph.char.isspace() and glyph.center == first
