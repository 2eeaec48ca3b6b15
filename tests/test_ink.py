"""The line's ink: the gaps between characters, on lines drawn here in Pillow's built-in font
and cut as the recogniser sees them (48 px high)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine import recognize
from engine.ctc import Glyph
from engine.ink import STEP, checked, measure


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


def test_marks_are_left_as_the_recogniser_read_them() -> None:
    # The ink's mark rules lost on real print ("still." read "still,"): a doubtful comma stays.
    read = glyphs_on("still. day", confidence=0.6)
    read[5] = Glyph(",", read[5].start, read[5].end, 0.6, 1e-4)
    assert [g.char for g in checked(read, line_image("still. day"))] == list("still,day")


def test_gaps_are_not_measured_with_the_rule_off() -> None:
    image = line_image("Egyptian gallery")
    got = checked(glyphs_on("Egyptian gallery"), image, frozenset())
    assert all(g.gap is None for g in got)
