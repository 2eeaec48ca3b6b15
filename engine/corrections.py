"""Correction rules on a line's words, each named (`engine.rules`), with its thresholds as
constants.

Only the rules that won on the real development set as a whole are here (docs/engine.md,
"Corrections"), and each changes a character only where the recogniser's own probabilities
say so. One is left: a stray digit among letters (or letter among digits) takes the
recogniser's second choice of the word's kind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.chars import plain
from engine.ctc import Glyph
from engine.rules import ALL_RULES, Rules

# A stray digit among letters (or letter among digits) becomes the recogniser's likeliest
# character of the other kind when that has at least this probability.
FAIR_CHANCE = 0.1
MIN_STRAY_WORD = 3  # letters and digits a word needs for its one stray to take their kind
NUMERIC_SIGNS = set("%$€£¥")  # a word holding one of these is a number


@dataclass(frozen=True)
class _Kinds:
    """A word's ASCII letters and digits, and whether it is a number."""

    alnum: list[Glyph]
    digits: list[Glyph]
    letters: list[Glyph]
    numeric: bool

    @classmethod
    def of(cls, word: list[Glyph]) -> _Kinds:
        alnum = [g for g in word if g.other]  # only ASCII letters and digits have another kind
        digits = [g for g in alnum if g.char.isdigit()]
        letters = [g for g in alnum if not g.char.isdigit()]
        signs = any(plain(g.char) in NUMERIC_SIGNS for g in word)
        return cls(alnum, digits, letters, len(digits) > len(letters) or signs)


def one_kind(word: list[Glyph], rules: Rules = ALL_RULES) -> list[Glyph]:
    """`stray`: a word's one stray digit among letters, or stray letter among digits, becomes
    the recogniser's likeliest character of the word's kind when the recogniser gave that at
    least FAIR_CHANCE ("1ate" with 'l' at 30 % is "late"). A stray without such a second
    choice stays ("A4", "MP3", "12A"), and so does an ordinal's number ("1st", "22nd")."""
    if "stray" not in rules:
        return word
    kinds = _Kinds.of(word)
    lone = _lone(kinds)
    if lone is None or lone.other_p < FAIR_CHANCE or _ordinal(word):
        return word
    return [replace(g, char=lone.other) if g is lone else g for g in word]


def _lone(kinds: _Kinds) -> Glyph | None:
    """The one stray of the other kind in a word of MIN_STRAY_WORD or more letters and
    digits, if there is exactly one."""
    if kinds.numeric:
        stray = kinds.letters
    else:
        stray = kinds.digits if len(kinds.letters) > len(kinds.digits) else []
    if len(stray) != 1 or len(kinds.alnum) < MIN_STRAY_WORD:
        return None
    return stray[0]


_ORDINALS = ("st", "nd", "rd", "th")


def _ordinal(word: list[Glyph]) -> bool:
    """Digits then an ordinal suffix: English writes numbers so ("1st", "3rd", "21st")."""
    text = "".join(g.char for g in word).rstrip(".,;:)")
    return text[:-2].isdigit() and text[-2:].lower() in _ORDINALS
