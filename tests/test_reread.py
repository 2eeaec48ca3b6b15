"""The draft recogniser's doubted words read again (engine/reread.py): which stretch of a line
is read again, and how the second reading is spliced into the first."""

from __future__ import annotations

import numpy as np

from engine.ctc import Glyph
from engine.reread import Doubt, columns, doubts, spans, splice


def line(text: str, start: int = 0, sure: float = 0.99, unsure: str = "") -> list[Glyph]:
    """Glyphs two steps apart; characters in `unsure` read at 0.4."""
    return [
        Glyph(c, start + 2 * i, start + 2 * i + 1, 0.4 if c in unsure else sure)
        for i, c in enumerate(text)
    ]


def text(glyphs: list[Glyph]) -> str:
    return "".join(g.char for g in glyphs)


def test_a_doubted_character_brings_its_word_between_the_written_spaces() -> None:
    draft = line("pay 3l0 now", unsure="l")
    probs = np.full((24, 4), 0.01, np.float32)  # no letter runs of three steps: no double doubt
    points = doubts(draft, probs, 0, Doubt(sure=0.85, space=0.1, double=0.6))
    assert points == [draft[5].center]
    # "3l0" spans from the end of the space before it to the start of the one after
    assert spans(draft, points, 0, 24) == [(draft[3].end, draft[7].start)]


def test_an_unwritten_likely_space_is_doubted_and_doubts_in_one_word_are_one_stretch() -> None:
    draft = line("with it")
    draft[2] = Glyph("t", draft[2].start, draft[2].end, 0.99, space=0.3)  # "wi th"?
    draft[3] = Glyph("h", draft[3].start, draft[3].end, 0.5)
    probs = np.full((14, 4), 0.01, np.float32)
    points = doubts(draft, probs, 0, Doubt(sure=0.85, space=0.1, double=0.6))
    assert points == [draft[2].start, draft[3].center]
    # no space written before "with": its stretch starts where the window does
    assert spans(draft, points, 0, 14) == [(0, draft[4].start)]
    assert doubts(draft, probs, 0, Doubt(sure=0.4, space=0.5, double=0.6)) == []


def test_the_second_reading_replaces_the_stretch_and_the_spaces_around_it_stay() -> None:
    draft = line("pay 3l0 now", unsure="l")
    stretch = (draft[3].end, draft[7].start)
    # the main recogniser, read from a little before: its own space one step off the draft's
    better = [Glyph(" ", 6, 7, 0.99), *line("310", start=8), Glyph(" ", 14, 15, 0.99)]
    assert text(splice(draft, [(stretch, better)])) == "pay 310 now"


def test_the_columns_read_again_start_on_a_step_with_context_either_side() -> None:
    start, stop = columns((10, 20), 8, 1000)
    assert start % 8 == 0 and start <= 10 * 8 - 64 and stop == 20 * 8 + 64
    assert columns((1, 3), 8, 40) == (0, 40)  # within the line
