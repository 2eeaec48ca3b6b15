"""Correction rules on a line's words, each named, with its thresholds as constants.

They change a character only where the recogniser's own second choice or the word's other
characters say so: a stray digit among letters, a look-alike letter in a number, '8' for '&'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from engine.chars import plain
from engine.recognize import Glyph
from engine.rules import ALL_RULES, Rules

# A stray digit among letters (or letter among digits) becomes the recogniser's likeliest
# character of the other kind when that has at least this probability.
FAIR_CHANCE = 0.1
MIN_STRAY_WORD = 3  # letters and digits a word needs for its one stray to take their kind
LOOK_ALIKE_DIGITS = {"l": "1", "I": "1", "O": "0", "o": "0"}  # letters read for digits
NUMERIC_SIGNS = set("%$€£¥")  # a word holding one of these is a number


def ampersand(before: list[Glyph], word: list[Glyph], after: list[Glyph]) -> list[Glyph]:
    """A lone '8' between two words of letters is '&' when the recogniser gave '&' a fair
    chance (at least FAIR_CHANCE): in small type it reads "Barnes & Sons" as "Barnes 8 Sons"."""
    (glyph, *rest) = word
    if rest or glyph.char != "8" or glyph.other != "&" or glyph.other_p < FAIR_CHANCE:
        return word
    if not (before[-1].char.isalpha() and after[0].char.isalpha()):
        return word
    return [replace(glyph, char="&")]


def thousands(glyphs: Sequence[Glyph], i: int) -> bool:
    """Whether the space glyph at i stands inside a number with thousands separators: a digit
    and a comma before it, exactly three digits after ("1, 206" is 1,206; "1, 2" stays)."""
    if i < 2 or plain(glyphs[i - 1].char) != "," or not glyphs[i - 2].char.isdigit():
        return False
    after = "".join(g.char for g in glyphs[i + 1 : i + 5])
    return after[:3].isdigit() and len(after) >= 3 and not after[3:].isdigit()


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
    """A word's one stray digit among letters, or stray letter among digits, made the kind of
    the rest: always for look-alikes the recogniser cannot tell apart in many fonts (l, I, O
    or o in a number: "2l", "l1%", "1O5", "ll%"; 0 among letters: "0ctober", "sh0p"), else
    to the recogniser's likeliest character of that kind when it gave it a fair chance.
    Codes and ordinals stay: "A4", "MP3", "12A", "1st" (no fair second choice)."""
    kinds = _Kinds.of(word)
    for name, rule in (
        ("look_alikes", _all_look_alikes),
        ("look_alikes", _look_alike_letter),
        ("stray", _stray),
        ("zero_letter", _zero_letter),
    ):
        fixed = rule(word, kinds) if name in rules else None
        if fixed is not None:
            return fixed
    return word


def _all_look_alikes(word: list[Glyph], kinds: _Kinds) -> list[Glyph] | None:
    """A number whose every letter is a digit's look-alike: all become digits ("ll%")."""
    letters = kinds.letters
    if not (kinds.numeric and letters):
        return None
    if not all(LOOK_ALIKE_DIGITS.get(g.char) == g.other for g in letters):
        return None
    return [replace(g, char=g.other) if g in letters else g for g in word]


def _look_alike_letter(word: list[Glyph], kinds: _Kinds) -> list[Glyph] | None:
    """One look-alike letter in a number ("l1%", "1O5") or beside one plain digit ("2l", but
    not "1l", where either could be the stray)."""
    if len(kinds.letters) != 1 or not (kinds.numeric or len(kinds.digits) == 1):
        return None
    (letter,) = kinds.letters
    plain_digit = kinds.numeric or kinds.digits[0].char not in LOOK_ALIKE_DIGITS.values()
    if plain_digit and LOOK_ALIKE_DIGITS.get(letter.char) == letter.other:
        return _swap(word, letter, letter.other)
    return None


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


def _stray(word: list[Glyph], kinds: _Kinds) -> list[Glyph] | None:
    """The lone stray becomes the recogniser's fair (FAIR_CHANCE) second choice."""
    lone = _lone(kinds)
    if lone is None or lone.other_p < FAIR_CHANCE:
        return None
    return _swap(word, lone, lone.other)


def _zero_letter(word: list[Glyph], kinds: _Kinds) -> list[Glyph] | None:
    """A lone 0 among letters becomes O (capitals, or the word's start) or o."""
    lone = _lone(kinds)
    if lone is None or lone.char != "0":
        return None
    capital = lone is kinds.alnum[0] or all(g.char.isupper() for g in kinds.letters)
    return _swap(word, lone, "O" if capital else "o")


def _swap(word: list[Glyph], glyph: Glyph, char: str) -> list[Glyph]:
    return [replace(g, char=char) if g is glyph else g for g in word]
