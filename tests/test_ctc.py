"""CTC decoding beyond the best path (engine/ctc.py): double letters."""

from __future__ import annotations

import numpy as np

from engine.ctc import ctc_glyphs

CLASSES = ["<blank>", "s", "t", "i", "l", " "]


def steps(*rows: dict[str, float]) -> np.ndarray:
    """[steps, classes] probabilities: each row's named classes, the rest left to the blank."""
    probs = np.zeros((len(rows), len(CLASSES)), np.float32)
    for t, row in enumerate(rows):
        for char, p in row.items():
            probs[t, CLASSES.index(char)] = p
        probs[t, 0] += 1 - probs[t].sum()
    return probs


def text(probs: np.ndarray, doubles: bool = True) -> str:
    return "".join(g.char for g in ctc_glyphs(probs, CLASSES, doubles=doubles))


def test_a_letter_run_likelier_two_letters_is_read_as_two() -> None:
    """'still' as the v6 tiny recogniser gave it: 'l' wins four steps, the blank 37 % and 43 %
    in the middle two. Best path: 'stil'; over all paths, two l's are likelier (0.62 to 0.35)."""
    probs = steps(
        {"s": 0.999}, {"t": 0.999}, {"i": 0.998},
        {"l": 0.988}, {"l": 0.631}, {"l": 0.571}, {"l": 0.982}, {" ": 0.998},
    )  # fmt: skip
    assert text(probs, doubles=False) == "stil "
    assert text(probs) == "still "
    first, second = ctc_glyphs(probs, CLASSES)[3:5]
    assert (first.start, first.end, second.start, second.end) == (3, 5, 6, 7)


def test_a_sure_run_stays_one_letter() -> None:
    """A wide letter held over several steps with hardly any blank is one letter ('m' in
    "summer" or a bold 'l'), and a run of two steps cannot hold two letters."""
    long_l = steps({"s": 0.99}, {"l": 0.95}, {"l": 0.9}, {"l": 0.85}, {"l": 0.97})
    assert text(long_l) == "sl"
    short = steps({"t": 0.99}, {"l": 0.55}, {"l": 0.55})
    assert text(short) == "tl"


def test_when_it_is_close_the_labelling_with_more_probability_wins() -> None:
    """'wil' as read on a noisy page: blank at 47 % in the middle step of three; one 'l' (0.40)
    beats two (0.37), so the best path stands."""
    probs = steps({"i": 0.92}, {"l": 0.986}, {"l": 0.516}, {"l": 0.794})
    assert text(probs) == "il"
