"""The correction rules, by name: each one can be switched off, so its worth on real print
can be measured (`make bench-ocr ARGS="--rules-off NAME,..."`, docs/benchmarks.md).

A rule is on when its name is in the engine's `Rules`. The rules themselves live where they
act: `engine.corrections` (characters of a word), `engine.words` (spaces), `engine.ink`
(punctuation marks and gaps, from the line's ink).
"""

from __future__ import annotations

Rules = frozenset[str]

NAMES: dict[str, str] = {
    "ampersand": "a lone 8 between words is & when the recogniser gives & a fair chance",
    "look_alikes": "look-alike letters in a number become digits (ll% -> 11%)",
    "stray": "a lone digit among letters (or letter among digits) takes the recogniser's "
    "second choice of the word's kind",
    "zero_letter": "a lone 0 among letters becomes O or o",
    "thousands": "a space between a digit's comma and three digits is dropped (1, 206)",
    "space_bonus": "the characters either side weigh in on a dropped space (after a comma...)",
    "ink_gaps": "blank ink columns between two characters weigh in on a dropped space",
    "mark_shape": "a doubtful . , : ; takes the shape of its ink",
    "mark_noise": "a doubtful mark with no ink under it is dropped",
    "mark_restore": "a mark the recogniser gave some chance but dropped is put back from its ink",
}
ALL_RULES: Rules = frozenset(NAMES)


def parse(text: str) -> Rules:
    """The rules left on when the comma-separated names in `text` are switched off."""
    off = {name.strip() for name in text.split(",") if name.strip()}
    unknown = off - ALL_RULES
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; known: {', '.join(NAMES)}")
    return ALL_RULES - off
