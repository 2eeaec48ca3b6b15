"""Words and reading order from what the recogniser and detector already know (no Paddle here).

Spaces: PP-OCRv4's Chinese recogniser often drops the spaces between English words ("thepatent")
when type is small or narrow, yet it still gives the space class some probability in the blank
steps between the two words (1e-2..0.5, against 1e-4 inside a word). That probability, how much
further apart the two characters stand than the line's usual pitch (the line's own scale, so any
resolution works) and the characters themselves (a letter after a comma) decide. CJK, kana and
hangul never get a space from us; punctuation sticks to its word.

Reading order: lines top to bottom; where a vertical gutter splits a block into two text
columns, the columns are read one after the other, full-width lines (titles) keeping their place.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import statistics
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from tool_ocr.models import Line

_SPACE_LOG10 = -2.0  # split where the recogniser gives a space 1 % between two characters...
# ... or 10 % on a line where it writes the spaces itself (one per SPACED characters or more):
# there, 1 % is the noise of small type ("f ell", "on line" at two steps a character).
_SPACED_LOG10, _SPACED = -1.0, 10
_PITCH_WEIGHT = 0.5  # ... less when they stand further apart than the line's usual pitch
_GEOMETRY_ONLY = 0.6  # without space probabilities: split 60 % above the usual pitch
# ... more where the ink shows a wider blank gap than the line's usual one, less where it
# shows a narrower one: decades of evidence per x-height beyond _INK_MARGIN, at most _INK_CAP.
# Bench lines (170,000 character pairs): the gap less the line's median was at most 0.18
# x-heights inside 99 % of words, and at least 0.21 at 99 % of spaces; no space had no gap.
_INK_WEIGHT, _INK_MARGIN, _INK_CAP = 4.0, 0.2, 2.0
_INK_SPAN = 2  # steps between two glyphs' centres for a narrow gap to count against a space
_NARROW = set("1lIij|!.,:;'")  # characters whose advance is much wider than their ink
_BONUS = {
    "after_comma": 1.5,
    "after_stop": 0.7,
    "digits": -1.0,
    "after_apostrophe": -0.7,
    "in_number": -2.5,
    "kind_change": 0.5,
}
_SWAP = 0.1  # a digit among letters (or a letter among digits) becomes the recogniser's
#              likeliest character of the other kind when that has at least this probability
_TO_DIGIT = {"l": "1", "I": "1", "O": "0", "o": "0"}  # look-alikes in a number
_NUMERIC = set("%$€£¥")  # a word holding one of these is a number
_CLOSING = set(".,:;!?)]}%'»”’…")  # attach to the previous word
_OPENING = set("([{«“‘$")  # attach to the next word
_MIN_COLUMN_LINES = 3  # per side: fewer is a small table, read row by row
_MIN_COLUMN_WIDTH = 0.25  # median line width of a column, as a share of the block's width


@dataclass(frozen=True)
class Glyph:
    """One decoded character of a line: its CTC time-step span and probability.

    `space` is the highest probability the recogniser gave to a space in the steps between the
    previous glyph and this one (None when unknown: the gap's width alone then decides).
    `other` is, for an ASCII digit, the likeliest ASCII letter or '&' at the glyph's peak (for
    a letter, the likeliest digit) and `other_p` its probability: '0' or 'O' in "0ctober", '8'
    or '&' in "Barnes & Sons".
    `mark` is the highest probability given to a full stop, comma, colon or semicolon in the
    steps since the previous glyph and in this one's own (`tool_ocr.ink` puts back a dropped
    one). `gap` is the widest run of blank image columns between the previous glyph (not a
    space) and this one, in x-heights, when the line's ink was measured.
    """

    char: str
    start: int  # first CTC time step, inclusive
    end: int  # last CTC time step, exclusive
    confidence: float
    space: float | None = None
    other: str = ""
    other_p: float = 0.0
    mark: float = 0.0
    gap: float | None = None


def ctc_glyphs(
    probs: np.ndarray, classes: Sequence[str], steps: int | None = None, offset: int = 0
) -> list[Glyph]:
    """Greedy CTC decoding of one line's [steps, classes] probabilities, with spans.

    `classes[i]` is the text of class i; class 0 is the CTC blank. Only the first `steps` steps
    are read (the rest is batch padding); spans are shifted by `offset` (a window's first step
    in its line). Repeated steps of one class make one glyph, whose confidence is its peak
    probability; `space` is measured when a class is ' '.
    """
    probs = probs[:steps]
    if not len(probs):
        return []
    best, top = probs.argmax(axis=1), probs.max(axis=1)
    bounds = np.flatnonzero(np.diff(best)) + 1
    space_col, kinds, marks = _columns_of(tuple(classes))
    spaces = probs[:, space_col] if space_col is not None else None
    stops = probs[:, marks].max(axis=1) if len(marks) else np.zeros(len(probs))
    glyphs: list[Glyph] = []
    for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(best)], strict=True):
        if best[start] == 0:
            continue
        space = None
        after = glyphs[-1].end - offset if glyphs else 0
        if spaces is not None and glyphs:
            # blank steps between the two, else both glyphs' edge steps ("will|therefore" at
            # one step a character: the space had 17 % inside the 'l')
            gap = slice(after, start) if start > after else slice(after - 1, after + 1)
            space = float(spaces[gap].max())
        mark = float(stops[after:end].max())
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
                mark,
            )
        )
    return glyphs


@functools.lru_cache(maxsize=4)
def _columns_of(classes: tuple[str, ...]) -> tuple[int | None, dict[str, np.ndarray], np.ndarray]:
    """The space class's column, per ASCII letter or digit the other kind's columns ('&'
    among the letters: it stands for a word), and the columns of . , : ;"""
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
    marks = np.array([column[c] for c in ".,:;" if c in column], int)
    return column.get(" "), kinds, marks


def is_cjk(char: str) -> bool:
    """Han, kana, hangul and CJK punctuation: scripts written without spaces. Full-width ASCII
    forms ('，', '（') are not: they are punctuation, which the recogniser also uses in English."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFF61 <= code <= 0xFFDC
        or 0x20000 <= code <= 0x3FFFF
    )


def _plain(char: str) -> str:
    """ASCII for a full-width form ('，' -> ','), else `char`."""
    return chr(ord(char) - 0xFEE0) if 0xFF01 <= ord(char) <= 0xFF5E else char


def group_words(glyphs: Sequence[Glyph]) -> list[tuple[str, int, int, float]]:
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
            if not _thousands(glyphs, i):
                words.append([])
            continue
        word = words[-1]
        if word and not glue[i] and _is_space(word[-2:], glyph, pitch, gap, threshold):
            words.append([])
        words[-1].append(glyph)
    words = [word for word in words if word]
    for i in range(1, len(words) - 1):
        words[i] = _ampersand(words[i - 1], words[i], words[i + 1])
    return [
        (
            "".join(g.char for g in _one_kind(word)),
            word[0].start,
            word[-1].end,
            min(g.confidence for g in word),
        )
        for word in words
    ]


def _ampersand(before: list[Glyph], word: list[Glyph], after: list[Glyph]) -> list[Glyph]:
    """A lone '8' between two words of letters is '&' when the recogniser gave '&' a fair
    chance (at least _SWAP): in small type it reads "Barnes & Sons" as "Barnes 8 Sons"."""
    (glyph, *rest) = word
    if rest or glyph.char != "8" or glyph.other != "&" or glyph.other_p < _SWAP:
        return word
    if not (before[-1].char.isalpha() and after[0].char.isalpha()):
        return word
    return [replace(glyph, char="&")]


def _thousands(glyphs: Sequence[Glyph], i: int) -> bool:
    """Whether the space glyph at i stands inside a number with thousands separators: a digit
    and a comma before it, exactly three digits after ("1, 206" is 1,206; "1, 2" stays)."""
    if i < 2 or _plain(glyphs[i - 1].char) != "," or not glyphs[i - 2].char.isdigit():
        return False
    after = "".join(g.char for g in glyphs[i + 1 : i + 5])
    return after[:3].isdigit() and len(after) >= 3 and not after[3:].isdigit()


def _one_kind(word: list[Glyph]) -> list[Glyph]:
    """A word's one stray digit among letters, or stray letter among digits, made the kind of
    the rest: to the recogniser's likeliest character of that kind when it gave it a fair
    chance (3+ characters), and always for look-alikes the recogniser cannot tell apart in
    many fonts: 0 among letters ("0ctober", "sh0p"), and l, I, O or o in a number ("2l",
    "l1%", "1O5"). Codes and ordinals stay: "A4", "MP3", "12A", "1st" (no fair second choice).
    """
    alnum = [g for g in word if g.other]  # ASCII letters and digits
    digits = [g for g in alnum if g.char.isdigit()]
    letters = [g for g in alnum if not g.char.isdigit()]
    numeric = len(digits) > len(letters) or any(_plain(g.char) in _NUMERIC for g in word)
    if numeric and letters and all(_TO_DIGIT.get(g.char) == g.other for g in letters):
        return [replace(g, char=g.other) if g in letters else g for g in word]  # "ll%"
    if len(letters) == 1 and (numeric or len(digits) == 1):
        # a look-alike letter in a number ("l1%", "1O5") or beside a plain digit ("2l", not "1l")
        (letter,) = letters
        plain = numeric or digits[0].char not in _TO_DIGIT.values()
        if plain and _TO_DIGIT.get(letter.char) == letter.other:
            return [replace(g, char=g.other) if g is letter else g for g in word]
    stray = letters if numeric else digits if len(letters) > len(digits) else []
    if len(stray) != 1 or len(alnum) < 3:
        return word
    lone = stray[0]
    if lone.other_p >= _SWAP:
        char = lone.other
    elif lone.char == "0":
        char = "O" if lone is alnum[0] or all(g.char.isupper() for g in letters) else "o"
    else:
        return word
    return [replace(g, char=char) if g is lone else g for g in word]


def _glue(glyphs: Sequence[Glyph]) -> list[bool]:
    """glue[i]: glyph i never starts a word unless the decoder put a space before it: it is
    CJK or closing punctuation, or the glyph before it is CJK or opens ('(', an opening '"').
    Full-width punctuation after CJK counts as CJK."""
    glue = [False] * (len(glyphs) + 1)
    quotes, cjk = 0, False
    for i, glyph in enumerate(glyphs):
        char = _plain(glyph.char)
        cjk = is_cjk(char) or (cjk and char != glyph.char)
        quotes += char == '"'
        closes = char in _CLOSING or (char == '"' and quotes % 2 == 0)
        opens = char in _OPENING or (char == '"' and quotes % 2 == 1)
        glue[i] |= closes or cjk
        glue[i + 1] |= opens or cjk
    return glue[:-1]


def _center(glyph: Glyph) -> float:
    return (glyph.start + glyph.end) / 2


def _usual_pitch(glyphs: Sequence[Glyph]) -> float:
    """Median distance, in steps, between adjacent characters' centres on this line."""
    pitches = [
        _center(b) - _center(a)
        for a, b in itertools.pairwise(glyphs)
        if not (a.char.isspace() or b.char.isspace())
    ]
    return max(statistics.median(pitches), 1e-6) if pitches else 1.0


def _usual_gap(glyphs: Sequence[Glyph]) -> float | None:
    """Median blank gap before this line's glyphs, in x-heights (None: its ink unmeasured)."""
    gaps = [g.gap for g in glyphs if g.gap is not None]
    return statistics.median(gaps) if gaps else None


def _is_space(
    before: Sequence[Glyph], right: Glyph, pitch: float, gap: float | None, threshold: float
) -> bool:
    """True when a space was dropped between the last of `before` (the word so far's last one
    or two characters) and `right`: when the evidence, in decades of probability, exceeds
    `threshold` (`pitch` and `gap`: the line's usual ones)."""
    left = before[-1]
    excess = (_center(right) - _center(left)) / pitch - 1
    if right.space is None:
        return excess > _GEOMETRY_ONLY
    evidence = math.log10(max(right.space, 1e-6)) + _PITCH_WEIGHT * excess
    if right.gap is not None and gap is not None:
        ink = _INK_WEIGHT * (right.gap - gap - _INK_MARGIN)
        if ink > 0 and (_plain(left.char) in _NARROW or _plain(right.char) in _NARROW):
            ink = 0.0  # in fixed-width digits and fonts, ink leaves a wide gap around a '1'
        if ink < 0 and _center(right) - _center(left) < _INK_SPAN:
            ink = 0.0  # glyphs a step apart: their ink may lie beyond the columns looked at
        evidence += max(-_INK_CAP, min(ink, _INK_CAP))
    chars = "".join(_plain(g.char) for g in before)
    return evidence + _bonus(chars, _plain(right.char)) > threshold


def _bonus(before: str, right: str) -> float:
    """Evidence for a space from the characters themselves, in decades of probability
    (`before`: the last one or two characters before the gap)."""
    left = before[-1]
    if left in ",.:-/" and before[:-1].isdigit() and right.isdigit():  # 3,482.15 8:30 88-2317
        return _BONUS["in_number"]
    if left in ",;" and right.isalpha():
        return _BONUS["after_comma"]
    if left in ":." and right.isalpha() or left == ":" and right.isdigit():
        return _BONUS["after_stop"]
    if left.isdigit() and right.isdigit():
        return _BONUS["digits"]
    if left == "'" and right.isalpha():
        return _BONUS["after_apostrophe"]
    if (
        left.isascii()
        and right.isascii()
        and left.isalpha() != right.isalpha()
        and (left.isalnum() and right.isalnum())
    ):  # "Tel 01539", "No 42"
        return _BONUS["kind_change"]
    return 0.0


def reading_order(lines: Sequence[Line]) -> list[Line]:
    """Lines in reading order: columns left to right, each top to bottom; rows otherwise."""
    return _order(list(lines))


def _order(lines: list[Line]) -> list[Line]:
    """Columns first (recursively); full-width lines cut the columns into bands, in place."""
    split = _columns(lines)
    if split is None:
        return _by_rows(lines)
    left, right, spanning = _settle(*split)
    bars = sorted(spanning, key=_center_y)
    edges = [_center_y(bar) for bar in bars]
    out: list[Line] = []
    for band in range(len(bars) + 1):
        for side in (left, right):
            out += _order([ln for ln in side if bisect.bisect(edges, _center_y(ln)) == band])
        out += bars[band : band + 1]
    return out


def _center_y(line: Line) -> float:
    return (line.box[1] + line.box[3]) / 2


def _height(line: Line) -> float:
    return line.box[3] - line.box[1]


def _by_rows(lines: list[Line]) -> list[Line]:
    """Top to bottom; lines side by side on one row (receipt label and amount) left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=_center_y):
        row = next((row for row in rows[-3:] if _joins(line, row)), None)
        if row is None:
            rows.append([line])
        else:
            row.append(line)
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


def _joins(line: Line, row: list[Line]) -> bool:
    """Beside every line of `row` (no horizontal overlap) and level with one of them."""
    beside = all(line.box[0] >= ln.box[2] or line.box[2] <= ln.box[0] for ln in row)
    return beside and any(
        min(line.box[3], ln.box[3]) - max(line.box[1], ln.box[1])
        >= 0.5 * min(_height(line), _height(ln))
        for ln in row
    )


def _columns(lines: list[Line]) -> tuple[list[Line], list[Line], list[Line]] | None:
    """(left, right, spanning) when a vertical gutter splits `lines` into two text columns.

    Candidate gutters start at a line's right edge and end where the next line to the right
    starts; they must be at least half a line height wide. Lines crossing it are "spanning".
    """
    if len(lines) < 2 * _MIN_COLUMN_LINES:
        return None
    width = max(ln.box[2] for ln in lines) - min(ln.box[0] for ln in lines)
    least_gap = 0.5 * statistics.median(_height(ln) for ln in lines)
    best: tuple[float, float] | None = None
    for cut in sorted({ln.box[2] for ln in lines}):
        start = min((ln.box[0] for ln in lines if ln.box[0] >= cut), default=None)
        if start is None or start - cut < least_gap:
            continue
        mid = (cut + start) / 2
        left, right, _ = _split(lines, mid)
        score = _column_score(left, right, width)
        if score is not None and (best is None or score > best[0]):
            best = (score, mid)
    return None if best is None else _split(lines, best[1])


def _settle(
    left: list[Line], right: list[Line], spanning: list[Line]
) -> tuple[list[Line], list[Line], list[Line]]:
    """A line crossing the gutter is a title or rule only if it reaches well into both
    columns; one that merely overhangs it (a wide detection box) belongs to the side holding
    most of it, or it would cut both columns into bands and interleave them."""
    gutter = (max(ln.box[2] for ln in left) + min(ln.box[0] for ln in right)) / 2
    reach = [
        0.5 * statistics.median(ln.box[2] - ln.box[0] for ln in side) for side in (left, right)
    ]
    bars = []
    for line in spanning:
        into_left, into_right = gutter - line.box[0], line.box[2] - gutter
        if into_left >= reach[0] and into_right >= reach[1]:
            bars.append(line)
        else:
            (left if into_left > into_right else right).append(line)
    return left, right, bars


def _split(lines: list[Line], x: float) -> tuple[list[Line], list[Line], list[Line]]:
    """(left of x, right of x, crossing x)."""
    return (
        [ln for ln in lines if ln.box[2] <= x],
        [ln for ln in lines if ln.box[0] >= x],
        [ln for ln in lines if ln.box[0] < x < ln.box[2]],
    )


def _column_score(left: list[Line], right: list[Line], width: float) -> float | None:
    """How much two sides look like text columns, or None when they do not: each side holds
    3+ lines (not a two-row table) of median width a quarter of the block or more (not a
    receipt's labels and amounts)."""
    if min(len(left), len(right)) < _MIN_COLUMN_LINES:
        return None
    widths = [statistics.median(ln.box[2] - ln.box[0] for ln in side) for side in (left, right)]
    if min(widths) < _MIN_COLUMN_WIDTH * width:
        return None
    return min(len(left), len(right))
