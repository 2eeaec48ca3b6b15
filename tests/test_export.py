"""Exports: the workbook, JSON and text a user opens, written to real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from core.values import EngineInfo, Line, Page, Source, Word
from tasks.export import replace_atomically, write_exports, write_txt

CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
ENGINE = EngineInfo("paddleocr", "3.7.0", {"det": "PP-OCRv4_det", "rec": "PP-OCRv4_rec"})
LONG = "lorem ipsum " * 40


def pages() -> list[Page]:
    hello = Word("Café", 0.98, (10, 10, 40, 22))
    return [
        Page(2, 300, 200, "text", lines=(Line("=1+1 stays text", 1.0, (10, 40, 90, 52)),)),
        Page(
            1,
            595.3,
            841.9,
            "ocr",
            dpi=300.0,
            seconds=1.25,
            lines=(
                Line("Café déjà vu", 0.9, (10, 10, 80, 22), (hello,)),
                Line("中文测试", 0.4, (10, 30, 60, 44)),
                Line(LONG.strip(), 0.7, (10, 50, 500, 62)),
            ),
        ),
        Page(3, 300, 200, "ocr", dpi=300.0),
    ]


@pytest.fixture()
def written(tmp_path: Path) -> dict[str, Path]:
    source = Source(tmp_path / "in.pdf", "Scan 01.pdf", "ab" * 32, "pdf", 1234, 3)
    paths = {
        "xlsx": tmp_path / "out" / "r.xlsx",
        "json_path": tmp_path / "out" / "r.json",
        "txt": tmp_path / "out" / "r.txt",
    }
    write_exports(
        source, pages(), ENGINE, low_confidence=0.5, review_share=0.1, created=CREATED, **paths
    )
    return paths


def test_workbook_has_document_pages_lines_and_words_sheets(written: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(written["xlsx"])
    assert wb.sheetnames == ["document", "pages", "lines", "words"]
    header, row = ([c.value for c in r] for r in wb["document"].iter_rows())
    doc = dict(zip(header, row, strict=True))
    assert (doc["name"], doc["sha256"], doc["kind"], doc["pages"]) == (
        "Scan 01.pdf",
        "ab" * 32,
        "pdf",
        3,
    )
    assert (doc["lines"], doc["words"], doc["weak_words"]) == (4, 4, 1)  # a word per bare line
    assert doc["mean_confidence"] == pytest.approx((0.98 + 0.4 + 0.7 + 1.0) / 4)
    assert (doc["weakest"], doc["needs_review"]) == (pytest.approx(0.4), True)
    assert doc["review_reasons"] == "1 of 4 words read with confidence below 0.5"
    assert (doc["engine"], doc["version"]) == ("paddleocr", "3.7.0")
    assert doc["created"] == datetime(2025, 3, 4, 5, 6, 7)  # a date Excel sorts, in UTC
    assert wb["document"]["N2"].is_date and "UTC" in wb["document"]["N2"].number_format
    page_rows = [[c.value for c in row] for row in wb["pages"].iter_rows(min_row=2)]
    assert [(r[0], r[1], r[5]) for r in page_rows] == [(1, "ocr", 3), (2, "text", 1), (3, "ocr", 0)]
    assert page_rows[0][8].startswith("Café déjà vu\n中文测试\n") and page_rows[2][6] is None
    line_rows = [[c.value for c in row] for row in wb["lines"].iter_rows(min_row=2)]
    assert [(r[0], r[1], r[2], r[4]) for r in line_rows[:2]] == [
        (1, 1, "Café déjà vu", False),
        (1, 2, "中文测试", True),
    ]
    assert line_rows[3][2] == "=1+1 stays text" and line_rows[3][5:] == [10, 40, 90, 52]
    word_rows = [[c.value for c in row] for row in wb["words"].iter_rows(min_row=2)]
    assert word_rows[0] == [1, 1, 1, "Café", 0.98, False, 10, 10, 40, 22]
    assert [r[:6] for r in word_rows[1:3]] == [
        [1, 2, 1, "中文测试", 0.4, True],  # no word boxes: the line as one word
        [1, 3, 1, LONG.strip(), 0.7, False],
    ]


def test_low_confidence_is_highlighted_by_conditional_formatting(
    written: dict[str, Path],
) -> None:
    wb = openpyxl.load_workbook(written["xlsx"])
    for name, text, confidence in (("lines", "C", "D"), ("words", "D", "E")):
        ranges = {
            str(cf.sqref): [rule.formula for rule in cf.rules]
            for cf in wb[name].conditional_formatting
        }
        last = wb[name].max_row
        expected = [[f"AND(ISNUMBER(${confidence}2),${confidence}2<0.5)"]]
        assert ranges == {
            f"{text}2:{text}{last}": expected,
            f"{confidence}2:{confidence}{last}": expected,
        }
        rule = next(iter(wb[name].conditional_formatting)).rules[0]
        assert rule.dxf.fill.fgColor.rgb.endswith("FFC7CE")
    (flag,) = wb["document"].conditional_formatting
    assert str(flag.sqref) == "J2" and flag.rules[0].formula == ["$J2=TRUE"]


def test_workbook_is_readable_in_excel(written: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(written["xlsx"])
    for ws in wb:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref == ws.dimensions
    lines = wb["lines"]
    widths = {c: lines.column_dimensions[c].width for c in "ABCD"}
    assert widths["C"] == 60 and 8 <= widths["A"] < 12  # long text capped, numbers narrow
    assert lines["C4"].alignment.wrap_text and lines["C5"].data_type == "s"


def test_json_holds_the_full_structure(written: dict[str, Path]) -> None:
    raw = written["json_path"].read_text(encoding="utf-8")
    assert "Café" in raw and "中文测试" in raw  # written as UTF-8, not \\u escapes
    data = json.loads(raw)
    assert list(data) == ["document", "engine", "pages"]
    assert data["document"]["name"] == "Scan 01.pdf" and data["document"]["pages"] == 3
    assert data["document"]["created"] == "2025-03-04T05:06:07+00:00"
    assert data["document"]["repaired"] is False
    assert data["document"]["review"] == {
        "needed": True,
        "reasons": ["1 of 4 words read with confidence below 0.5"],
        "words": 4,
        "weak_words": 1,
        "weak_share_above": 0.1,
        "mean_confidence": pytest.approx((0.98 + 0.4 + 0.7 + 1.0) / 4),
        "weakest": pytest.approx(0.4),
    }
    assert data["engine"]["models"] == ENGINE.models
    first = data["pages"][0]
    assert (first["number"], first["method"], first["dpi"]) == (1, "ocr", 300.0)
    assert first["lines"][0]["words"] == [
        {"text": "Café", "confidence": 0.98, "low_confidence": False, "box": [10, 10, 40, 22]}
    ]
    assert [line["low_confidence"] for line in first["lines"]] == [False, True, False]


def test_text_separates_pages_with_form_feeds(written: dict[str, Path]) -> None:
    text = written["txt"].read_text(encoding="utf-8")
    assert text.split("\f") == [f"Café déjà vu\n中文测试\n{LONG.strip()}", "=1+1 stays text", "\n"]


def test_exports_replace_old_files_and_leave_no_temporaries(written: dict[str, Path]) -> None:
    folder = written["txt"].parent
    assert sorted(p.name for p in folder.iterdir()) == ["r.json", "r.txt", "r.xlsx"]


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "result.txt"
    target.write_text("previous", encoding="utf-8")
    with pytest.raises(RuntimeError), replace_atomically(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk gone")
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]


def test_text_keeps_a_printed_row_on_one_line(tmp_path: Path) -> None:
    receipt = Page(
        1,
        200,
        300,
        "ocr",
        lines=(
            Line("Date", 0.9, (20, 40, 50, 51)),
            Line("25/12/2018 8:39 PM", 0.9, (120, 39, 200, 52)),
            Line("Thank you", 0.9, (60, 70, 120, 81)),
        ),
    )
    write_txt([receipt], tmp_path / "receipt.txt")
    text = (tmp_path / "receipt.txt").read_text(encoding="utf-8")
    assert text == "Date\t25/12/2018 8:39 PM\nThank you\n"
