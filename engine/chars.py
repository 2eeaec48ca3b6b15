"""Character classes the engine decides with: Latin script, CJK, full-width forms."""

from __future__ import annotations


def latin(char: str) -> bool:
    """Whether the Latin-script reading keeps `char`: printable ASCII, accented Latin letters
    (U+00C0-U+024F; the recogniser knows some: é, ü, à, ...), common typographic signs, and
    the Greek letters and mathematical signs of scientific papers (the minus sign '−', not
    '-', was the paper pages' most often missed word)."""
    return (
        (char.isascii() and char.isprintable())
        or 0xC0 <= ord(char) <= 0x24F
        or char in _TYPOGRAPHIC
        or 0x391 <= ord(char) <= 0x3C9
        or char in _MATH
    )


_TYPOGRAPHIC = set("£€¥¢°±§©®™µ¹²³¼½¾‘’“”–—…•·«»")
_MATH = set("−×÷∓≤≥≠≈∼≃≡∝∞∂∇∈∑∏∫√′″→←↔⇒∗⋅†‡‖")


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


def plain(char: str) -> str:
    """ASCII for a full-width form ('，' -> ','), else `char`."""
    return chr(ord(char) - 0xFEE0) if 0xFF01 <= ord(char) <= 0xFF5E else char
