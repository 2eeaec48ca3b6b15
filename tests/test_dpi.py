"""The dpi of images without dpi metadata: guessed from the pixel size, pages of a real size."""

from __future__ import annotations

import pytest

from tasks.dpi import FIT_PAGE, guess_dpi, image_dpi


@pytest.mark.parametrize(
    "size,dpi",
    [
        pytest.param((827, 1169), 100, id="A4 at 100 dpi"),
        pytest.param((2480, 3508), 300, id="A4 at 300 dpi"),
        pytest.param((3508, 2480), 300, id="A4 landscape"),
        pytest.param((850, 1100), 100, id="Letter at 100 dpi"),
        pytest.param((1700, 2200), 200, id="Letter at 200 dpi"),
        pytest.param((1275, 2100), 150, id="Legal at 150 dpi"),
        pytest.param((1165, 1654), 200, id="A5 at 200 dpi"),
        pytest.param((2479, 3506), 300, id="A4 cropped by a pixel or two"),
        pytest.param((576, 1900), 203, id="receipt printed at 203 dpi (72 mm)"),
        pytest.param((945, 3000), 300, id="80 mm receipt scanned at 300 dpi"),
    ],
)
def test_common_paper_sizes_give_their_scan_dpi(size, dpi):
    assert guess_dpi(*size) == dpi


@pytest.mark.parametrize(
    "size",
    [(4032, 3024), (1920, 1080), (640, 682), (1000, 3000), (2000, 2000)],
    ids=["phone photo", "screenshot", "web image", "photographed receipt", "square"],
)
def test_other_images_fit_a4_and_letter(size):
    dpi = guess_dpi(*size)
    short, long = sorted(size)
    assert short / dpi <= FIT_PAGE[0] + 1e-9 and long / dpi <= FIT_PAGE[1] + 1e-9
    assert short / dpi > FIT_PAGE[0] - 0.1 or long / dpi > FIT_PAGE[1] - 0.1  # fills it


def test_a_tiny_image_is_not_blown_up_to_a_page():
    assert guess_dpi(400, 50) == 72  # 5.6 x 0.7 in, not a sheet-wide strip


def test_declared_dpi_wins_over_any_guess():
    assert image_dpi({"dpi": (300, 300)}, (827, 1169)) == (300, 300)
    assert image_dpi({}, (827, 1169)) == (100, 100)
    assert image_dpi({"dpi": (1, 1)}, (850, 1100)) == (100, 100)  # absurd: guessed
