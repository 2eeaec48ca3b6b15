"""Words and spaces of a line, from what the recogniser and the line's ink already know.

PP-OCRv4's Chinese recogniser often drops the spaces between English words ("thepatent") when
type is small or narrow, yet it still gives the space class some probability in the blank
steps between the two words (1e-2..0.5, against 1e-4 inside a word). That probability, how much
further apart the two characters stand than the line's usual pitch (the line's own scale, so any
resolution works), the blank columns of ink between them and the characters themselves (a
letter after a comma) decide. CJK, kana and hangul never get a space from us; punctuation
sticks to its word.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

from engine.chars import is_cjk, plain
from engine.corrections import one_kind
from engine.ctc import Glyph
from engine.rules import ALL_RULES, Rules

_SPACE_LOG10 = -2.0  # split where the recogniser gives a space 1 % between two characters...
# ... or 10 % on a line where it writes the spaces itself (one per SPACED characters or more):
# there, 1 % is the noise of small type ("f ell", "on line" at two steps a character).
_SPACED_LOG10, _SPACED = -1.0, 10
_PITCH_WEIGHT = 0.5  # ... less when they stand further apart than the line's usual pitch
_GEOMETRY_ONLY = 0.6  # without space probabilities: split 60 % above the usual pitch
# ... more where the ink shows a wider blank gap than the line's usual one, less where it
# shows a narrower one: decades of evidence per x-height beyond _INK_MARGIN, at most _INK_CAP.
_INK_WEIGHT, _INK_MARGIN, _INK_CAP = 4.0, 0.2, 2.0
_INK_SPAN = 2  # steps between two glyphs' centres for a narrow gap to count against a space
_NARROW = set("1lIij|!.,:;'")  # characters whose advance is much wider than their ink
# `narrow_spaces`: on a line whose spaces the recogniser writes itself, a space it dropped
# beside a narrow letter or digit needs _NARROW_MORE decades more evidence. Their wide side
# bearings leave blank columns that look like a space to the recogniser too ("3 10", "wi th").
_NARROW_LETTERS, _NARROW_MORE = set("1lIij|!"), 0.3
# `figures`: within a number ("310", "118.75") a wider distance is no sign of a space: figures
# share one advance, wider than the line's usual letter pitch, and a point stands between two.
_DIGITS, _POINTS = set("0123456789"), set(".,")
_CLOSING = set(".,:;!?)]}%'»”’…")  # attach to the previous word
_OPENING = set("([{«“‘$")  # attach to the next word


def group_words(
    glyphs: Sequence[Glyph], rules: Rules = ALL_RULES
) -> list[tuple[str, int, int, float]]:
    """Words of one line (text, first step, end step, confidence), spaces restored.

    A word's confidence is the lowest of its characters': a word is only as right as its least
    certain character, and a mean would hide one doubtful letter in a long word. The line's text
    is the words joined by single spaces (a CJK run is one word: no space is ever put in it).
    """
    glue, pitch, gap = _glue(glyphs), _usual_pitch(glyphs), _usual_gap(glyphs)
    spaces = sum(g.char.isspace() for g in glyphs)
    threshold = _SPACED_LOG10 if spaces * _SPACED >= len(glyphs) - spaces else _SPACE_LOG10
    words: list[list[Glyph]] = [[]]
    for i, glyph in enumerate(glyphs):
        if glyph.char.isspace():
            words.append([])
            continue
        word = words[-1]
        if word and not glue[i] and _is_space(word[-2:], glyph, pitch, gap, threshold, rules):
            words.append([])
        words[-1].append(glyph)
    words = [word for word in words if word]
    return [
        (
            "".join(g.char for g in one_kind(word, rules)),
            word[0].start,
            word[-1].end,
            min(g.confidence for g in word),
        )
        for word in words
    ]


def _glue(glyphs: Sequence[Glyph]) -> list[bool]:
    """glue[i]: glyph i never starts a word unless the decoder put a space before it: it is
    CJK or closing punctuation, or the glyph before it is CJK or opens ('(', an opening '"').
    Full-width punctuation after CJK counts as CJK."""
    glue = [False] * (len(glyphs) + 1)
    quotes, cjk = 0, False
    for i, glyph in enumerate(glyphs):
        char = plain(glyph.char)
        cjk = is_cjk(char) or (cjk and char != glyph.char)
        quotes += char == '"'
        closes = char in _CLOSING or (char == '"' and quotes % 2 == 0)
        opens = char in _OPENING or (char == '"' and quotes % 2 == 1)
        glue[i] |= closes or cjk
        glue[i + 1] |= opens or cjk
    return glue[:-1]


def _usual_pitch(glyphs: Sequence[Glyph]) -> float:
    """Median distance, in steps, between adjacent characters' centres on this line."""
    pitches = [
        b.center - a.center
        for a, b in itertools.pairwise(glyphs)
        if not (a.char.isspace() or b.char.isspace())
    ]
    return max(statistics.median(pitches), 1e-6) if pitches else 1.0


def _usual_gap(glyphs: Sequence[Glyph]) -> float | None:
    """Median blank gap before this line's glyphs, in x-heights (None: its ink unmeasured)."""
    gaps = [g.gap for g in glyphs if g.gap is not None]
    return statistics.median(gaps) if gaps else None


def _is_space(
    before: Sequence[Glyph],
    right: Glyph,
    pitch: float,
    gap: float | None,
    threshold: float,
    rules: Rules = ALL_RULES,
) -> bool:
    """True when a space was dropped between the last of `before` (the word so far's last one
    or two characters) and `right`: when the evidence, in decades of probability, exceeds
    `threshold` (`pitch` and `gap`: the line's usual ones)."""
    left = before[-1]
    narrow = plain(left.char) in _NARROW_LETTERS or plain(right.char) in _NARROW_LETTERS
    if threshold == _SPACED_LOG10 and narrow and "narrow_spaces" in rules:
        threshold += _NARROW_MORE
    excess = (right.center - left.center) / pitch - 1
    if "figures" in rules and _in_number(before, right):
        excess = min(excess, 0.0)
    if right.space is None:
        return excess > _GEOMETRY_ONLY
    evidence = math.log10(max(right.space, 1e-6)) + _PITCH_WEIGHT * excess
    if right.gap is not None and gap is not None and "ink_gaps" in rules:
        ink = _INK_WEIGHT * (right.gap - gap - _INK_MARGIN)
        if ink > 0 and (plain(left.char) in _NARROW or plain(right.char) in _NARROW):
            ink = 0.0  # in fixed-width digits and fonts, ink leaves a wide gap around a '1'
        if ink < 0 and right.center - left.center < _INK_SPAN:
            ink = 0.0  # glyphs a step apart: their ink may lie beyond the columns looked at
        evidence += max(-_INK_CAP, min(ink, _INK_CAP))
    return evidence > threshold


def _in_number(before: Sequence[Glyph], right: Glyph) -> bool:
    """`right` a digit after a digit, or after a point that follows one ("3|10", "118.|75")."""
    chars = [plain(g.char) for g in before]
    if plain(right.char) not in _DIGITS or not chars:
        return False
    if chars[-1] in _DIGITS:
        return True
    return chars[-1] in _POINTS and len(chars) > 1 and chars[-2] in _DIGITS
