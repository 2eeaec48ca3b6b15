"""The correction rules, by name: each one can be switched off, so its worth on real print
can be measured (`make bench-ocr ARGS="--rules-off NAME,..."`, docs/benchmarks.md).

A rule is on when its name is in the engine's `Rules`. The rules themselves live where they
act: `engine.corrections` (characters of a word), `engine.ink` with `engine.words` (spaces),
`engine.ctc` (double letters).
"""

from __future__ import annotations

Rules = frozenset[str]

NAMES: dict[str, str] = {
    "stray": "a lone digit among letters (or letter among digits) takes the recogniser's "
    "second choice of the word's kind",
    "ink_gaps": "blank ink columns between two characters weigh in on a dropped space",
    "narrow_spaces": "a dropped space beside a narrow letter or digit needs more evidence on "
    "lines whose spaces the recogniser writes",
    "figures": "within a number, digits standing further apart than the line's letters are "
    "no evidence of a dropped space",
    "doubles": "a run of one letter likelier two equal letters than one, over all CTC paths, "
    "is read as two",
}
ALL_RULES: Rules = frozenset(NAMES)


def parse(text: str) -> Rules:
    """The rules left on when the comma-separated names in `text` are switched off."""
    off = {name.strip() for name in text.split(",") if name.strip()}
    unknown = off - ALL_RULES
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; known: {', '.join(NAMES)}")
    return ALL_RULES - off
