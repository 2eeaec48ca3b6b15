"""The OCR benchmark: its measures, its page generator, and one tiny run with the real engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.engines import EngineRun
from bench.metrics import bag_cer, cer, levenshtein, word_f1
from bench.pages import A4_INCHES, BenchPage, available_fonts, generate, make_page
from bench.real import comparable, kind_of
from bench.report import PageResult, Score, targets
from bench.tesseract import TessApi, library
from conftest import text_page

ROOT = Path(__file__).resolve().parents[1]

# Measures, on strings worked out by hand.


def test_word_f1_counts_words_regardless_of_order_case_and_width() -> None:
    # found: the, cat, sat; truth: the x2, cat, sat, on, mat -> 3 shared of 3 + 6 words
    assert word_f1("The  cat\nsat", "the cat sat on the mat") == pytest.approx(2 * 3 / 9)
    assert word_f1("mat the on sat cat the", "the cat sat on the mat") == 1.0
    assert word_f1("ﬁle ＦＵＬＬ", "file full") == 1.0  # NFKC: ligature and full-width forms
    assert word_f1("cat, sat", "cat sat") == pytest.approx(2 * 1 / 4)  # punctuation counts
    assert word_f1("", "") == 1.0
    assert word_f1("words", "") == 0.0


def test_levenshtein_and_cer() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("flaw", "lawn") == 2
    assert levenshtein("", "abc") == levenshtein("abc", "") == 3
    assert cer("Helo  world\n", "Hello world") == pytest.approx(1 / 11)
    assert cer("hello", "Hello") == pytest.approx(1 / 5)  # case counts
    assert cer("a\n\n b", "a b") == 0.0  # line breaks are whitespace, collapsed
    assert cer("", "abcd") == 1.0


def test_order_free_cer_ignores_where_words_stand_but_not_their_letters() -> None:
    assert bag_cer("world hello", "hello world") == 0.0
    assert bag_cer("helo world", "hello world") == pytest.approx(1 / 10)  # spaces not counted
    assert bag_cer("", "abc") == 1.0 and bag_cer("abc", "") == 1.0
    assert bag_cer("cat dog", "cat") == pytest.approx(3 / 3)  # an extra word is inserted whole
    assert cer("world hello", "hello world") > 0.5  # the ordered CER does mind


def test_real_scans_are_scored_by_their_kinds_conventions() -> None:
    assert kind_of("sroie_015.jpg") == "receipts" and kind_of("funsd_0001.png") == "forms"
    assert kind_of("docbank_1401_p13.jpg") == "papers" and kind_of("scan.png") == "real"
    assert comparable("receipts", "Total RM") == "total rm"  # SROIE truths are upper case
    assert comparable("papers", "Total") == "Total"


def test_targets_per_kind_speed_and_generated_families() -> None:
    def page(family: str, real: bool, ours: float, tess: float, seconds: float) -> PageResult:
        return PageResult(
            family,
            family,
            100,
            real,
            Score(ours, 1 - ours, 1 - ours, seconds),
            Score(tess, 1 - tess, 1 - tess, 1.0),
        )

    lines = targets(
        [
            page("receipts", True, 0.90, 0.80, 0.5),  # +0.10: passes the +0.05 margin
            page("papers", True, 0.82, 0.815, 0.5),  # +0.005: short of the +0.01 margin
            page("clean", False, 0.99, 0.98, 1.0),
            page("blur", False, 0.90, 0.95, 1.0),
        ]
    )

    assert lines[0].startswith("PASS receipts: word F1") and lines[1].startswith("PASS")
    assert lines[2].startswith("FAIL papers: word F1") and lines[3].startswith("PASS papers")
    assert lines[4].startswith("PASS real set, warm against warm") and "x0.50" in lines[4]
    assert lines[5].startswith("FAIL generated") and "blur" in lines[5] and "clean" not in lines[5]
    assert EngineRun("tesseract", note="missing").ran is False


# The page generator.


def ink(page: BenchPage) -> np.ndarray:
    return np.asarray(page.image().convert("L")) < 128


def line_bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """(top, bottom) of each run of rows holding ink, i-dots and the like left out: one per
    text line on an upright page."""
    edges = np.diff(mask.any(axis=1).astype(np.int8), prepend=0, append=0)
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))
    tallest = max(bottom - top for top, bottom in runs)
    return [(int(t), int(b)) for t, b in runs if b - t >= 0.4 * tallest]


def bands(mask: np.ndarray) -> int:
    return len(line_bands(mask))


def test_pages_are_deterministic_per_seed() -> None:
    assert make_page("jpeg", 0, seed=3) == make_page("jpeg", 0, seed=3)
    assert make_page("jpeg", 0, seed=3).data != make_page("jpeg", 0, seed=4).data
    with pytest.raises(ValueError, match="unknown"):
        generate(["sepia"])


def test_a4_pages_match_their_dpi_and_format() -> None:
    pages = generate(["clean", "noise", "jpeg", "g4", "columns"], per_family=1)
    for page in pages:
        img = page.image()
        width, height = (round(d * page.dpi) for d in A4_INCHES)
        assert abs(img.width - width) <= 1 and abs(img.height - height) <= 1, page.name
        assert 200 <= page.dpi <= 300
        assert round(img.info["dpi"][0]) == page.dpi
    kinds = {p.family: (p.image().mode, p.image().format) for p in pages}
    assert kinds["g4"] == ("1", "TIFF") and pages[3].image().info["compression"] == "group4"
    assert kinds["jpeg"] == ("L", "JPEG") and kinds["noise"] == ("RGB", "PNG")


def test_ground_truth_has_one_line_per_drawn_line() -> None:
    clean, receipt = make_page("clean", 0), make_page("receipt", 1)
    assert bands(ink(clean)) == len(clean.lines) > 20
    assert bands(ink(receipt)) == len(receipt.lines)
    columns = make_page("columns", 0)
    mask = ink(columns)
    half = mask.shape[1] // 2
    assert bands(mask[:, :half]) + bands(mask[:, half:]) == len(columns.lines)


def test_receipt_amounts_add_up_to_its_total() -> None:
    lines = make_page("receipt", 0).lines
    amounts = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in lines[4:]}
    items = lines[4 : lines.index(f"SUBTOTAL {amounts['SUBTOTAL']}")]
    total = sum(round(float(line.rsplit(" ", 1)[1]) * 100) for line in items)
    assert total == round(float(amounts["TOTAL"]) * 100)


def test_rotated_pages_are_turned_and_their_truth_is_upright() -> None:
    pages = generate(["rotated"], per_family=3)
    assert [p.rotation for p in pages] == [90, 180, 270]
    for page in pages:
        mask = ink(page)
        assert (bands(mask) > bands(mask.T)) == (page.rotation == 180), page.name
        upright = np.rot90(mask, k=-page.rotation // 90)  # undo the counter-clockwise turn
        starts = [np.flatnonzero(upright[t:b].any(axis=0))[0] for t, b in line_bands(upright)]
        ends = [np.flatnonzero(upright[t:b].any(axis=0))[-1] for t, b in line_bands(upright)]
        # Left-aligned paragraphs, ragged right: most lines start where most lines start
        # (a letter's side bearing moves its ink a few pixels), few end together.
        assert np.mean(np.abs(starts - np.median(starts)) < 10) > 0.8, page.name
        assert np.mean(np.abs(ends - np.median(ends)) < 10) < 0.5, page.name
        assert bands(upright) == len(page.lines)


# One tiny run with the real engine (and Tesseract when installed).


def test_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    text_page(["Invoice number 12345", "Total amount due"]).save(real / "scan.png")
    (real / "scan.txt").write_text("Invoice number 12345\nTotal amount due\n", "utf-8")
    out = tmp_path / "out"

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ocr",
            "--pages",
            "1",
            "--families",
            "clean",
            "--real",
            str(real),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "| " in done.stdout and "overall" in done.stdout
    results = json.loads((out / "results.json").read_text("utf-8"))
    by_name = {p["name"]: p for p in results["pages"]}
    assert set(by_name) == {"clean-1", "scan"}
    assert by_name["scan"]["real"] and not by_name["clean-1"]["real"]
    assert by_name["clean-1"]["ours"]["f1"] > 0.5
    assert by_name["scan"]["ours"]["cer"] < 0.3
    assert (out / "pages" / "clean-1.png").is_file() and (out / "results.csv").is_file()
    tesseract = by_name["clean-1"]["tesseract"]
    if library():
        assert tesseract["f1"] > 0.5 and "warm against warm" in done.stdout
        assert "per file, real" in done.stdout
    else:
        assert tesseract is None and "not installed" in done.stdout


def test_the_pages_fonts_are_the_benchs_own() -> None:
    fonts = available_fonts()
    assert fonts[0] == "default" and len(fonts) > 8
    assert all(f == "default" or "reportlab" in f for f in fonts)  # never the system's


@pytest.mark.skipif(library() is None, reason="libtesseract not installed")
def test_tesseract_reads_a_page_through_its_api() -> None:
    api = TessApi(library())  # type: ignore[arg-type]
    text = api.read(np.asarray(text_page(["Invoice number 12345"])), 300)
    assert "Invoice" in text and "12345" in text
