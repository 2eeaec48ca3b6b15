"""CTC decoding: a window's per-step probabilities made into glyphs.

Greedy (best path) decoding, each glyph keeping its time-step span, the space probability
before it and the other kind's likeliest character (what `engine.words` and
`engine.corrections` decide with). One step beyond the best path: a double letter. Greedy
decoding merges two equal letters unless a blank wins a step between them, yet the labelling
with the double letter can be the likelier one over all paths ("still": 'l' at four steps, the
blank at 37 % and 43 % in the middle two); `_double` compares the two (`doubles` rule).
"""

from __future__ import annotations

import functools
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Glyph:
    """One decoded character of a line: its CTC time-step span and probability.

    `space` is the highest probability the recogniser gave to a space in the steps between the
    previous glyph and this one (None when unknown: the gap's width alone then decides).
    `other` is, for an ASCII digit, the likeliest ASCII letter or '&' at the glyph's peak (for
    a letter, the likeliest digit) and `other_p` its probability: '0' or 'O' in "0ctober", '8'
    or '&' in "Barnes & Sons".
    `gap` is the widest run of blank image columns between the previous glyph (not a space) and
    this one, in x-heights, when the line's ink was measured (`engine.ink`).
    """

    char: str
    start: int  # first CTC time step, inclusive
    end: int  # last CTC time step, exclusive
    confidence: float
    space: float | None = None
    other: str = ""
    other_p: float = 0.0
    gap: float | None = None

    @property
    def center(self) -> float:
        """The middle of its span, in time steps."""
        return (self.start + self.end) / 2


def ctc_glyphs(
    probs: np.ndarray,
    classes: Sequence[str],
    steps: int | None = None,
    offset: int = 0,
    doubles: bool = True,
) -> list[Glyph]:
    """Greedy CTC decoding of one line's [steps, classes] probabilities, with spans.

    `classes[i]` is the text of class i; class 0 is the CTC blank. Only the first `steps` steps
    are read (the rest is batch padding); spans are shifted by `offset` (a window's first step
    in its line). Repeated steps of one class make one glyph, whose confidence is its peak
    probability; `space` is measured when a class is ' '. With `doubles`, a run that is
    likelier two equal letters than one is read as two (`runs`).
    """
    probs = probs[:steps]
    if not len(probs):
        return []
    best, top = probs.argmax(axis=1), probs.max(axis=1)
    space_col, kinds = _columns_of(tuple(classes))
    spaces = probs[:, space_col] if space_col is not None else None
    glyphs: list[Glyph] = []
    for start, end in runs(probs, best, doubles):
        space = None
        after = glyphs[-1].end - offset if glyphs else 0
        if spaces is not None and glyphs:
            # blank steps between the two, else both glyphs' edge steps ("will|therefore" at
            # one step a character: the space had 17 % inside the 'l')
            gap = slice(after, start) if start > after else slice(after - 1, after + 1)
            space = float(spaces[gap].max())
        char, peak = classes[best[start]], start + int(top[start:end].argmax())
        other, other_p = "", 0.0
        if (columns := kinds.get(char)) is not None:  # the other kind's likeliest
            col = columns[int(probs[peak, columns].argmax())]
            other, other_p = classes[col], float(probs[peak, col])
        glyphs.append(
            Glyph(
                char,
                int(start) + offset,
                int(end) + offset,
                float(top[peak]),
                space,
                other,
                other_p,
            )
        )
    return glyphs


@functools.lru_cache(maxsize=4)
def _columns_of(classes: tuple[str, ...]) -> tuple[int | None, dict[str, np.ndarray]]:
    """The space class's column, and per ASCII letter or digit the other kind's columns ('&'
    among the letters: it stands for a word)."""
    column = {c: i for i, c in enumerate(classes)}
    letters = np.array([column[c] for c in string.ascii_letters + "&" if c in column], int)
    digits = np.array([column[c] for c in string.digits if c in column], int)
    kinds = {
        c: letters if c in string.digits else digits
        for c in string.ascii_letters + string.digits
        if c in column
    }
    if not (len(letters) and len(digits)):
        kinds = {}
    return column.get(" "), kinds


def runs(probs: np.ndarray, best: np.ndarray, doubles: bool = True) -> list[tuple[int, int]]:
    """The steps start..end of each non-blank run of the best path; with `doubles`, a run of
    DOUBLE_STEPS or more that is likelier two equal letters than one (`_double`) is cut in
    two at its likeliest blank step."""
    bounds = np.flatnonzero(np.diff(best)) + 1
    out = []
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(best)], strict=True):
        if best[start] == 0:
            continue
        cut = _double(probs[start:end, best[start]], probs[start:end, 0]) if doubles else None
        if cut is None:
            out.append((int(start), int(end)))
        else:
            out += [(int(start), int(start) + cut), (int(start) + cut + 1, int(end))]
    return out


# A letter read twice needs a blank between its two runs: three steps at least.
DOUBLE_STEPS = 3


def _double(letter: np.ndarray, blank: np.ndarray) -> int | None:
    """Where to cut a run of one letter read as two (its steps' probabilities of the letter,
    `letter`, and of the blank), or None when one letter is the likelier labelling
    (`double_odds`). The cut is the inner step where the blank is likeliest."""
    if len(letter) < DOUBLE_STEPS or double_odds(letter, blank) <= 1:
        return None
    return 1 + int(np.argmax(blank[1:-1]))


def double_odds(letter: np.ndarray, blank: np.ndarray) -> float:
    """How much likelier a run of steps is two equal letters than one, over the paths of the
    letter and the blank alone, as CTC's forward pass sums them: one letter is any blanks, the
    letter, any blanks; two need a blank between."""
    # the steps so far ending in: blanks only, 1st letter, blanks after it, 2nd letter, blanks
    none, one, after, two, done = 1.0, 0.0, 0.0, 0.0, 0.0
    for p, b in zip(letter.tolist(), blank.tolist(), strict=True):
        none, one, after, two, done = (
            none * b,
            (none + one) * p,
            (one + after) * b,
            (after + two) * p,
            (two + done) * b,
        )
    return (two + done) / max(one + after, 1e-30)
