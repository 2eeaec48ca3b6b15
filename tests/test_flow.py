"""End to end through Prefect with the real engine: files in, outputs and DuckDB rows out."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pymupdf
import pytest
from PIL import Image
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, LogFilter
from prefect.logging.handlers import APILogHandler
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from conftest import text_page, words_of
from core.settings import Settings
from flows.ocr_document import ocr_document
from store.snapshot import query_snapshot

pytestmark = pytest.mark.usefixtures("prefect_server")

INVOICE = ["Invoice 12345", "Total 99.50 EUR"]
LETTER = ["Dear customer", "Order 67890 shipped"]


def run(path: Path) -> tuple[Any, Any]:
    """(final state, result or exception) of one flow run."""
    state = ocr_document(path=str(path), return_state=True)
    return state, state.result(raise_on_failure=False)


def rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return query_snapshot(settings.snapshot, sql, params)[1]


def squashed(text: str) -> str:
    """Lower-case text without spaces (the recogniser's word spacing is not asserted here)."""
    return "".join(text.lower().split())


def scanned_pdf(path: Path, images: list[Image.Image | None], texts: list[str] = ()) -> Path:
    """A PDF with one page per item: an image drawn full page, or (None) born-digital text."""
    canvas = Canvas(str(path), pagesize=(612, 792))
    for image in images:
        if image is None:
            canvas.setFont("Helvetica", 14)
            for i, line in enumerate(texts):
                canvas.drawString(72, 720 - 24 * i, line)
        else:
            buffer = io.BytesIO()
            image.save(buffer, "PNG")
            canvas.drawImage(
                ImageReader(buffer),
                0,
                792 - image.height * 72 / 200,
                image.width * 72 / 200,
                image.height * 72 / 200,
            )
        canvas.showPage()
    canvas.save()
    return path


def test_png_scan_gives_four_outputs_and_rows(settings: Settings, tmp_path: Path) -> None:
    scan = tmp_path / "invoice.png"
    text_page(INVOICE).save(scan, dpi=(300, 300))
    state, result = run(scan)
    assert state.is_completed(), result
    outputs = {k: Path(v) for k, v in result["outputs"].items()}
    assert all(p.is_file() and p.stat().st_size > 0 for p in outputs.values())

    ((status, pages, name),) = rows(
        settings, "SELECT status, page_count, source_name FROM documents"
    )
    assert (status, pages, name) == ("done", 1, "invoice.png")
    lines = rows(settings, "SELECT text, confidence FROM lines ORDER BY line_no")
    assert len(lines) == 2 and all(0.5 < c <= 1 for _, c in lines)
    assert "12345" in lines[0][0] and "99.50" in lines[1][0]

    with pymupdf.open(outputs["pdf"]) as pdf:
        pdf_words = [w[4] for w in pdf[0].get_text("words", sort=True)]
    assert pdf_words == " ".join(t for t, _ in lines).split(), "word for word, in order"
    sheet = openpyxl.load_workbook(outputs["xlsx"])["lines"]
    assert [c.value for c in sheet[2]][2] == lines[0][0]
    assert "invoice" in squashed(outputs["txt"].read_text())
    assert scan.exists(), "the user's file stays where it is"


def test_file_state_changes_are_logged_to_the_prefect_ui(
    settings: Settings, tmp_path: Path
) -> None:
    scan = tmp_path / "logged.png"
    text_page(INVOICE).save(scan)
    state, _ = run(scan)
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id={"any_": [state.state_details.flow_run_id]}))
    messages = [entry.message for entry in logs]
    assert any("logged.png: accepted as png" in m for m in messages), messages
    assert any("logged.png: done, 1 page(s)" in m for m in messages), messages


def test_the_runs_graph_links_each_step_to_the_one_whose_pages_it_took(
    settings: Settings, tmp_path: Path
) -> None:
    """Steps take their arguments opaque (tasks/tracking.py): not walked into, still linked."""
    scan = tmp_path / "graph.png"
    text_page(INVOICE).save(scan)
    state, _ = run(scan)
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id={"any_": [state.state_details.flow_run_id]})
        )
    by_name = {r.name: r for r in runs}
    assert {"render graph.png", "ocr graph.png", "searchable pdf graph.png"} <= set(by_name)

    def upstream(name: str, argument: str) -> set[Any]:
        return {i.id for i in by_name[name].task_inputs[argument]}

    assert upstream("ocr graph.png", "pages") == {by_name["render graph.png"].id}
    assert upstream("searchable pdf graph.png", "pages") == {by_name["ocr graph.png"].id}
    assert upstream("ocr graph.png", "source") == {by_name["ingest graph.png"].id}


def test_exif_rotated_jpeg_is_read_upright(settings: Settings, tmp_path: Path) -> None:
    upright = text_page(LETTER, mode="RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # viewers rotate 90 degrees clockwise to display
    photo = tmp_path / "letter.jpg"
    upright.rotate(90, expand=True).save(photo, exif=exif, dpi=(300, 300), quality=95)
    state, _ = run(photo)
    assert state.is_completed()
    text = squashed(" ".join(t for (t,) in rows(settings, "SELECT text FROM lines")))
    assert "order67890shipped" in text and "customer" in text
    ((width, height),) = rows(settings, "SELECT width_pt, height_pt FROM pages")
    assert width > height, "page size follows the displayed (rotated) orientation"


def test_three_page_g4_tiff_gives_one_row_per_page(settings: Settings, tmp_path: Path) -> None:
    pages = [text_page([f"Page {n} of 3", f"Reference {n}0{n}"]).convert("1") for n in (1, 2, 3)]
    tiff = tmp_path / "fax.tif"
    pages[0].save(
        tiff, save_all=True, append_images=pages[1:], compression="group4", dpi=(300, 300)
    )
    state, result = run(tiff)
    assert state.is_completed() and result["pages"] == 3
    found = rows(
        settings,
        "SELECT page_no, string_agg(text, ' ') FROM lines GROUP BY page_no ORDER BY page_no",
    )
    assert [p for p, _ in found] == [1, 2, 3]
    for page_no, text in found:
        assert f"reference{page_no}0{page_no}" in squashed(text)


def test_scanned_pdf_keeps_its_images_and_gains_text(settings: Settings, tmp_path: Path) -> None:
    pdf = scanned_pdf(tmp_path / "scanned.pdf", [text_page(INVOICE), text_page(LETTER)])
    state, result = run(pdf)
    assert state.is_completed(), result
    assert rows(settings, "SELECT page_no, method FROM pages ORDER BY 1") == [
        (1, "ocr"),
        (2, "ocr"),
    ]
    with pymupdf.open(pdf) as original, pymupdf.open(result["outputs"]["pdf"]) as out:
        for before, after in zip(original, out, strict=True):
            ((xref_in, *_),) = before.get_images()
            ((xref_out, *_),) = after.get_images()
            assert original.xref_stream_raw(xref_in) == out.xref_stream_raw(xref_out)
        assert "67890" in out[1].get_text() and "12345" in out[0].get_text()


def test_scan_with_a_text_stamp_is_still_read_and_not_doubled(
    settings: Settings, tmp_path: Path
) -> None:
    letter = Image.new("L", (1700, 2200), "white")  # a full US-letter page at 200 dpi
    letter.paste(text_page(INVOICE + LETTER, size=40), (0, 200))
    scan = scanned_pdf(tmp_path / "stamped.pdf", [letter])
    stamped = tmp_path / "camscanner.pdf"
    with pymupdf.open(scan) as doc:
        doc[0].insert_text((72, 300), "Scanned with CamScanner", fontsize=24)
        doc.save(stamped)
    state, result = run(stamped)
    assert state.is_completed(), result
    assert rows(settings, "SELECT method FROM pages") == [("ocr",)], "the stamp is not the page"
    with pymupdf.open(result["outputs"]["pdf"]) as out:
        words = [w[4] for w in out[0].get_text("words")]
    assert words.count("CamScanner") == 1, words
    assert "12345" in " ".join(words) and "67890" in " ".join(words)


def test_mixed_pdf_sends_only_the_scanned_page_to_ocr(settings: Settings, tmp_path: Path) -> None:
    born_digital = "Quarterly report for the board of directors"
    pdf = scanned_pdf(tmp_path / "mixed.pdf", [None, text_page(INVOICE)], [born_digital])
    state, result = run(pdf)
    assert state.is_completed(), result
    methods = rows(settings, "SELECT page_no, method FROM pages ORDER BY page_no")
    assert methods == [(1, "text"), (2, "ocr")]
    read = rows(settings, "SELECT page_no, seconds > 0 FROM pages ORDER BY page_no")
    assert read == [(1, False), (2, True)], "the born-digital page is not sent to OCR"
    ((text,),) = rows(settings, "SELECT text FROM pages WHERE page_no = 1")
    assert words_of(text) == words_of(born_digital)
    with pymupdf.open(result["outputs"]["pdf"]) as out:
        assert "12345" in out[1].get_text()
        assert words_of(out[0].get_text()) == words_of(born_digital)


def test_corrupt_file_fails_fast_with_reason_and_no_retry(
    settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "good.png"
    text_page(INVOICE).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(good.read_bytes()[:400])
    state, error = run(broken)
    assert state.is_failed() and error.kind == "corrupt_file"
    ((status, error_type, message),) = rows(
        settings, "SELECT status, error_type, error_message FROM documents"
    )
    assert (status, error_type) == ("failed", "corrupt_file") and "broken.png" in message
    attempts = rows(
        settings, "SELECT task_name, attempt, state FROM task_attempts WHERE task_name = 'ingest'"
    )
    assert attempts == [("ingest", 1, "FAILED")], "a permanent error is not retried"


def test_encrypted_pdf_is_refused_with_reason(settings: Settings, tmp_path: Path) -> None:
    plain = scanned_pdf(tmp_path / "plain.pdf", [None], ["Secret salary list"])
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(plain) as doc:
        doc.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw", owner_pw="pw")
    state, error = run(locked)
    assert state.is_failed() and error.kind == "encrypted_pdf"
    ((error_type,),) = rows(settings, "SELECT error_type FROM documents")
    assert error_type == "encrypted_pdf"


def test_same_content_is_skipped_then_forced_without_duplicate_rows(
    settings: Settings, tmp_path: Path
) -> None:
    scan = tmp_path / "again.png"
    text_page(LETTER).save(scan)
    assert run(scan)[1]["status"] == "done"
    assert run(scan)[1]["status"] == "skipped"
    state = ocr_document(path=str(scan), force=True, return_state=True)
    assert state.result()["status"] == "done"
    assert rows(settings, "SELECT count(*) FROM documents") == [(1,)]
    assert rows(settings, "SELECT count(*) FROM pages") == [(1,)]
    assert rows(settings, "SELECT count(*) FROM lines") == [(2,)]


def test_transient_ocr_faults_are_retried_and_recorded(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_FAULTS", "ocr:2")
    scan = tmp_path / "flaky.png"
    text_page(INVOICE).save(scan)
    state, _ = run(scan)
    assert state.is_completed()
    attempts = rows(
        settings,
        "SELECT attempt, state, error_type FROM task_attempts "
        "WHERE task_name = 'ocr' ORDER BY attempt",
    )
    assert attempts == [
        (1, "FAILED", "injected_fault"),
        (2, "FAILED", "injected_fault"),
        (3, "COMPLETED", None),
    ]
    assert rows(settings, "SELECT status FROM documents") == [("done",)]


def test_exhausted_retries_fail_the_document_and_lose_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_FAULTS", "ocr:4")
    scan = tmp_path / "doomed.png"
    text_page(INVOICE).save(scan)
    state, error = run(scan)
    assert state.is_failed() and error.kind == "injected_fault"
    attempts = rows(
        settings,
        "SELECT count(*), count(*) FILTER (state = 'FAILED') "
        "FROM task_attempts WHERE task_name = 'ocr'",
    )
    assert attempts == [(4, 4)]
    ((status, error_type),) = rows(settings, "SELECT status, error_type FROM documents")
    assert (status, error_type) == ("failed", "injected_fault")
    assert scan.exists() and not any(settings.work.iterdir()), "input kept, rasters cleaned"
