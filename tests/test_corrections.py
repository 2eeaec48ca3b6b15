"""Correction rules on a line's words (engine/corrections.py), through `group_words`."""

from __future__ import annotations

from engine.recognize import Glyph
from engine.words import group_words
from test_words import glyphs, texts


def kinds(text: str, sure: dict[int, tuple[str, float]] | None = None) -> str:
    """`text` through word grouping, each letter's likeliest digit (and digit's letter) the
    usual look-alike with a faint probability, or `sure[i]`."""
    alike = {"l": "1", "I": "1", "O": "0", "o": "0", "0": "O", "1": "l", "5": "S", "8": "B"}
    line = [
        Glyph(
            c,
            3 * i,
            3 * i + 1,
            0.9,
            1e-4,
            *(sure or {}).get(
                i, (alike.get(c, "4" if c.isalpha() else "A"), 0.005) if c.isalnum() else ("", 0.0)
            ),
        )
        for i, c in enumerate(text)
    ]
    return " ".join(texts(group_words(line)))


def test_a_space_the_decoder_wrote_inside_thousands_is_dropped() -> None:
    assert texts(group_words(glyphs("of 1, 206 patients"))) == ["of", "1,206", "patients"]
    assert texts(group_words(glyphs("items 1, 2 and 3"))) == ["items", "1,", "2", "and", "3"]


def test_a_stray_digit_or_letter_takes_the_kind_of_its_word() -> None:
    assert kinds("0ctober") == "October" and kinds("sh0p") == "shop"
    assert kinds("2l") == "21" and kinds("l1%") == "11%" and kinds("1O5") == "105"
    assert kinds("ll%") == "11%" and kinds("$lO") == "$10"  # every letter a look-alike
    assert kinds("1ate", {0: ("l", 0.3)}) == "late"  # the recogniser's fair second choice
    for code in ("A4", "MP3", "12A", "1st", "1am", "B2B", "1l", "10am", "4.2", "2024"):
        assert kinds(code) == code


def test_a_lone_8_between_words_is_an_ampersand_when_the_recogniser_allows_it() -> None:
    fair, faint = {7: ("&", 0.29)}, {7: ("&", 0.02)}
    assert kinds("Barnes 8 Sons", fair) == "Barnes & Sons"
    assert kinds("Barnes 8 Sons", faint) == "Barnes 8 Sons"
    assert kinds("page 8 of 9", {5: ("&", 0.29)}) == "page & of 9"
    assert kinds("page 8", {5: ("&", 0.29)}) == "page 8"  # last word: no word after it
    assert kinds("12 8 14", {3: ("&", 0.29)}) == "12 8 14"
