"""The document's markdown artifact says whether a person should look at it, and why."""

from __future__ import annotations

from pathlib import Path

from core.values import Line, Outputs, Page, Source, Word
from tasks.artifacts import artifact_key, summary_markdown


def receipt(tmp_path: Path) -> tuple[Source, Outputs]:
    source = Source(tmp_path / "r.png", "r.png", "cd" * 32, "png", 10, 1)
    return source, Outputs.for_source(tmp_path, source)


def test_a_weak_word_in_a_sure_line_flags_the_document_for_review(tmp_path: Path) -> None:
    source, outputs = receipt(tmp_path)
    words = (Word("PLEASE", 0.97, (0, 0, 1, 1)), Word("CO", 0.27, (1, 0, 2, 1)))
    page = Page(1, 595, 842, "ocr", lines=(Line("PLEASE CO", 0.27, (0, 0, 2, 1), words),))
    text = summary_markdown(source, [page], outputs, 0.8, review_share=0.1)
    assert "**Needs review**: 1 of 2 words read with confidence below 0.8" in text
    assert "2 word(s), 1 weak, mean word confidence 0.620, weakest 0.270" in text
    assert "Needs review: no" in summary_markdown(source, [page], outputs, 0.8, review_share=0.5)


def test_a_page_without_text_flags_the_document_for_review(tmp_path: Path) -> None:
    source, outputs = receipt(tmp_path)
    text = summary_markdown(source, [Page(1, 595, 842, "ocr")], outputs, 0.8)
    assert "**Needs review**: no text found" in text and "word(s)" not in text


def test_artifact_keys_carry_the_files_name_so_operators_find_them() -> None:
    source = Source(
        Path("Rechnung März 2024.PDF"),
        "Rechnung März 2024.PDF",
        "8b85d2c3" + "0" * 56,
        "pdf",
        10,
        1,
    )
    assert artifact_key("document", source) == "document-rechnung-m-rz-2024-pdf-8b85d2c3"
    odd = Source(Path("___.png"), "___.png", "ab" * 32, "png", 1, 1)
    assert artifact_key("progress", odd) == "progress-png-abababab"
