"""Correction rules on a line's words (engine/corrections.py), through `group_words`."""

from __future__ import annotations

from engine.ctc import Glyph
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


def test_a_stray_digit_or_letter_takes_the_recogniser_s_second_choice_of_its_kind() -> None:
    assert kinds("1ate", {0: ("l", 0.3)}) == "late"
    assert kinds("sh0p", {2: ("o", 0.4)}) == "shop"
    assert kinds("1O5", {1: ("0", 0.5)}) == "105"
    for code in ("A4", "MP3", "12A", "1am", "B2B", "1l", "10am", "4.2", "2024"):
        assert kinds(code) == code


def test_a_stray_without_the_recognisers_evidence_stays() -> None:
    # Real print the generator-fitted rules broke (issue 14): no character changes unless the
    # recogniser itself gave the other one a fair chance.
    assert kinds("Milk 2l") == "Milk 2l"  # no longer 21 from the look-alike alone
    assert kinds("SW1A 0AA") == "SW1A 0AA"  # no longer OAA
    assert kinds("0ctober") == "0ctober" and kinds("ll%") == "ll%"
    assert kinds("CO2") == "CO2" and kinds("C02") == "C02"  # 'Z', 'O' and '6' faint
    assert kinds("1st", {0: ("l", 0.3)}) == "1st"  # an ordinal keeps its number
    assert kinds("22nd", {1: ("z", 0.3)}) == "22nd" and kinds("3rd.", {0: ("r", 0.2)}) == "3rd."


def test_what_the_recogniser_read_is_kept_where_the_removed_rules_changed_it() -> None:
    assert kinds("Figure 8 shows", {7: ("&", 0.29)}) == "Figure 8 shows"  # not '&'
    words = texts(group_words(glyphs("Phys. Rev. 47, 777 (1993)")))
    assert words == ["Phys.", "Rev.", "47,", "777", "(1993)"]  # not "47,777"


def test_the_rule_can_be_switched_off() -> None:
    line = [
        Glyph(c, 3 * i, 3 * i + 1, 0.9, 1e-4, *(("l", 0.3) if c == "1" else ("4", 0.001)))
        for i, c in enumerate("1ate")
    ]
    assert texts(group_words(line)) == ["late"]
    assert texts(group_words(line, frozenset())) == ["1ate"]
