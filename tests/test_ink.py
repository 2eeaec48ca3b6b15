"""The line's ink against the recogniser: punctuation marks and word gaps, on lines drawn here
in Pillow's built-in font and cut as the recogniser sees them (48 px high)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from engine import recognize
from engine.ink import STEP, checked, measure
from engine.recognize import Glyph


def line_image(text: str, size: int = 40, tilt: float = 0.0) -> np.ndarray:
    """The `ink_level` of `text` drawn as a detector crop (a little paper above and below) and
    cut as the recogniser sees it; `tilt` degrees of rotation, as a detector box slightly off
    the line's slope leaves it."""
    font = ImageFont.load_default(size=size)
    width = int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(text, font=font)) + size
    img = Image.new("L", (width, int(size * 1.6)), "white")
    ImageDraw.Draw(img).text((size // 2, size * 0.3), text, fill="black", font=font)
    if tilt:
        img = img.rotate(tilt, resample=Image.Resampling.BICUBIC, fillcolor="white")
    return recognize.ink_level(recognize.rec_image(np.asarray(img.convert("RGB"))))


def glyphs_on(text: str, size: int = 40, confidence: float = 0.99) -> list[Glyph]:
    """Glyphs for `text` as `line_image` draws it, each on the step under its character's
    middle (spaces left out): what a well-aligned recogniser would give."""
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    scale = recognize.REC_HEIGHT / int(size * 1.6)
    out = []
    for i, char in enumerate(text):
        if char != " ":
            middle = (
                size // 2
                + draw.textlength(text[:i], font=font)
                + draw.textlength(char, font=font) / 2
            )
            step = int(middle * scale // STEP)
            out.append(Glyph(char, step, step + 1, confidence, 1e-4))
    return out


def text_of(glyphs: list[Glyph]) -> str:
    return "".join(g.char for g in glyphs)


@pytest.mark.parametrize("tilt", [0.0, 0.4])
def test_marks_are_told_apart_by_their_ink(tilt: float) -> None:
    # 0.4 degrees over this line drops its baseline by ~8 px from one end to the other
    image = line_image("Friday, 14 March; at 8:30. Wide wall, full stop.", tilt=tilt)
    ink = measure(image)
    assert ink is not None
    assert [m.char() for m in ink.marks] == [",", ";", ":", ".", ",", "."]


def test_a_doubtful_mark_takes_the_shape_of_its_ink() -> None:
    image = line_image("day, day; day.")
    read = glyphs_on("day. day: day,")  # each mark read as its twin
    doubtful = [g if g.char.isalpha() else Glyph(g.char, g.start, g.end, 0.6) for g in read]
    assert text_of(checked(doubtful, image)) == "day,day;day."
    assert text_of(checked(read, image)) == "day.day:day,"  # sure reads are left alone


def test_a_dropped_comma_is_put_back_where_its_ink_is() -> None:
    image = line_image("day, 14")
    d, a, y, comma, one, four = glyphs_on("day, 14")
    space = Glyph(" ", comma.start + 1, comma.start + 2, 0.6, 0.6, mark=0.3)
    assert text_of(checked([d, a, y, space, one, four], image)) == "day, 14"
    faint = Glyph(" ", space.start, space.end, 0.6, 0.6, mark=0.005)
    assert text_of(checked([d, a, y, faint, one, four], image)) == "day 14"


def test_a_doubtful_stop_on_blank_paper_goes() -> None:
    image = line_image("harbour      office")  # a wide gap
    letters = glyphs_on("harbour      office")
    blank = letters[6].end + 1  # clear of the 'r', well before the 'o'
    assert letters[7].start > blank + 3
    stop = Glyph(".", blank, blank + 1, 0.45)
    got = checked([*letters[:7], stop, *letters[7:]], image)
    assert text_of(got) == "harbouroffice"
    sure = Glyph(".", blank, blank + 1, 0.99)
    assert text_of(checked([*letters[:7], sure, *letters[7:]], image)) == "harbour.office"


def test_gaps_measure_the_blank_columns_between_characters() -> None:
    image = line_image("Egyptian gallery")
    got = checked(glyphs_on("Egyptian gallery"), image)
    gaps = [g.gap for g in got]
    assert gaps[0] is None  # nothing before the first
    inside = [gap for i, gap in enumerate(gaps[1:], 1) if i != 8]
    assert all(gap is not None and gap < 0.3 for gap in inside)
    assert gaps[8] is not None and gaps[8] > 0.4  # the word space, before the 'g' of gallery


def test_lines_without_measurable_letters_are_left_alone() -> None:
    tiny = line_image("a", size=40)
    glyph = [Glyph(".", 1, 2, 0.3)]
    assert checked(glyph, tiny) == glyph
    assert measure(np.zeros((48, 200), np.float32)) is None
