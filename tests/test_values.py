"""The values passed between steps: a document's review (core/values.py)."""

from __future__ import annotations

from core.values import Line, Page, Word, review


def page(*lines: Line) -> Page:
    return Page(1, 595, 842, "ocr", lines=lines)


def line(*confidences: float) -> Line:
    words = tuple(
        Word(f"w{i}", c, (10.0 * i, 0, 10.0 * i + 8, 10)) for i, c in enumerate(confidences)
    )
    return Line(
        " ".join(w.text for w in words), sum(confidences) / len(confidences), (0, 0, 80, 10), words
    )


def test_one_weak_word_is_not_hidden_by_a_sure_line() -> None:
    result = review([page(line(0.99, 0.98, 0.27, 0.99))], low_confidence=0.8, weak_share=0.1)
    assert result.weakest == 0.27 and result.weak_words == 1 and result.words == 4
    assert result.needed and "1 of 4 words" in result.reasons[0]


def test_a_sure_document_needs_no_review_and_an_empty_one_does() -> None:
    sure = review([page(line(0.95, 0.97), line(0.9))], low_confidence=0.8, weak_share=0.1)
    assert not sure.needed and sure.reasons == ()
    assert sure.mean_confidence is not None and abs(sure.mean_confidence - 0.94) < 1e-9
    empty = review([page(), page()], low_confidence=0.8, weak_share=0.1)
    assert empty.needed and empty.reasons == ("no text found",) and empty.weakest is None


def test_lines_without_word_boxes_count_as_one_word() -> None:
    bare = Line("Total 42", 0.5, (0, 0, 50, 10))
    result = review([page(bare)], low_confidence=0.8, weak_share=0.5)
    assert result.words == 1 and result.weak_words == 1 and result.needed
