"""The command line as a user runs it: exit codes, what it prints, help for every command."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from analyst_snapshot import build
from typer.testing import CliRunner

from conftest import text_page
from core.settings import Settings
from core.values import Source
from store.db import Store
from store.snapshot import query_snapshot
from tool_ocr.cli import app

runner = CliRunner()


def test_every_command_has_help() -> None:
    commands = app.registered_commands
    assert commands
    for command in commands:
        name = command.name or command.callback.__name__
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert (command.help or command.callback.__doc__ or "").strip(), f"{name} has no help"


@pytest.mark.usefixtures("prefect_server")
def test_process_then_sql(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    text_page(["Receipt 24680", "Thank you"]).save(folder / "receipt.png")
    (folder / "notes.txt").write_text("not a scan")

    result = runner.invoke(app, ["process", str(folder)])
    assert result.exit_code == 65, result.output  # one file refused: EX_DATAERR
    assert "receipt" in result.output and "UnsupportedFileError" in result.output
    assert (folder / "receipt.png").exists()

    result = runner.invoke(
        app, ["sql", "SELECT source_name, status FROM documents ORDER BY source_name"]
    )
    assert result.exit_code == 0
    assert "notes.txt" in result.output and "failed" in result.output
    assert "receipt.png" in result.output and "done" in result.output

    reviewed = "SELECT word_count, needs_review, weak_below FROM documents WHERE status = 'done'"
    result = runner.invoke(app, ["sql", "--csv", reviewed])  # the run recorded the review
    [row] = csv.DictReader(io.StringIO(result.stdout))
    assert int(row["word_count"]) >= 4 and row["needs_review"] == "false", row
    assert float(row["weak_below"]) == settings.low_confidence

    result = runner.invoke(app, ["sql", "DELETE FROM documents"])
    assert result.exit_code == 2 and "read-only" in result.output

    result = runner.invoke(app, ["process", str(folder / "receipt.png")])
    assert result.exit_code == 0 and "skipped" in result.output


def test_sql_without_snapshot_or_with_bad_config(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["sql", "SELECT 1"])
    assert result.exit_code != 0 and "no snapshot" in result.output
    monkeypatch.setenv("TOOL_OCR_OUTPUT_DIR", str(settings.inbox / "out"))
    result = runner.invoke(app, ["sql", "SELECT 1"])
    assert result.exit_code == 3 and "TOOL_OCR_OUTPUT_DIR" in result.output


def test_retry_moves_quarantined_files_back_into_the_inbox(settings: Settings) -> None:
    quarantined = settings.failed / "april" / "scan.pdf"
    quarantined.parent.mkdir(parents=True)
    quarantined.write_bytes(b"%PDF-1.4 broken")
    (quarantined.parent / "scan.pdf.error.json").write_text("{}")
    (settings.inbox / "april").mkdir()
    (settings.inbox / "april" / "scan.pdf").write_bytes(b"a different file, same name")

    result = runner.invoke(app, ["retry"])
    assert result.exit_code == 0, result.output
    back = settings.inbox / "april" / "scan (2).pdf"  # never over a file already waiting
    assert back.read_bytes() == b"%PDF-1.4 broken"
    assert not list(settings.failed.rglob("*.*"))

    result = runner.invoke(app, ["retry", str(settings.inbox / "april" / "scan.pdf")])
    assert result.exit_code == 2 and "not a file in" in result.output


def test_status_says_what_is_down(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    (settings.inbox / "waiting.png").write_bytes(b"x")
    (settings.inbox / "ignored.tmp").write_bytes(b"x")
    (settings.failed / "bad.pdf").write_bytes(b"x")
    (settings.failed / "bad.pdf.error.json").write_text("{}")

    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "reachable no" in result.output and "Watcher alive no" in result.output
    assert "waiting 1" in result.output and "failed 1" in result.output


# `tool-ocr sql` for machines and for wide rows; `status` naming documents to review


def analysts_snapshot(settings: Settings, tmp_path: Path) -> dict[str, Source]:
    return build(Store.from_settings(settings), tmp_path)


SUMMARY = (
    "SELECT doc_id, source_name, mean_word_confidence, needs_review, review_reasons, finished_at "
    "FROM document_summary ORDER BY source_name"
)


def test_sql_csv_and_json_give_exact_values(settings: Settings, tmp_path: Path) -> None:
    docs = analysts_snapshot(settings, tmp_path)
    expected = query_snapshot(settings.snapshot, SUMMARY)[1]
    invoice = next(row for row in expected if row[1] == "invoice.pdf")
    assert invoice[0] == docs["invoice"].doc_id

    result = runner.invoke(app, ["sql", "--csv", SUMMARY])
    assert result.exit_code == 0, result.output
    header, *rows = list(csv.reader(io.StringIO(result.stdout)))
    assert header[:3] == ["doc_id", "source_name", "mean_word_confidence"]
    first = next(row for row in rows if row[1] == "invoice.pdf")
    assert first[0] == invoice[0] and float(first[2]) == invoice[2]
    assert first[3] == "true" and datetime.fromisoformat(first[5]) == invoice[5]
    assert [row[3] for row in rows] == ["true", "", "true", "false"]  # failed: NULL, empty

    result = runner.invoke(app, ["sql", "--json", SUMMARY])
    assert result.exit_code == 0, result.output
    [got] = [o for o in json.loads(result.stdout) if o["source_name"] == "invoice.pdf"]
    assert tuple(got.values())[:5] == invoice[:5]
    assert datetime.fromisoformat(got["finished_at"]) == invoice[5]

    words = "SELECT words FROM lines WHERE line_no = 2"
    result = runner.invoke(app, ["sql", "--json", words])
    assert json.loads(result.stdout)[0]["words"][1] == {
        "text": "CO", "confidence": 0.27, "x0": 140.0, "y0": 72.0, "x1": 160.0, "y1": 86.0,
    }  # fmt: skip
    result = runner.invoke(app, ["sql", "--csv", words])
    assert (
        json.loads(next(iter(csv.DictReader(io.StringIO(result.stdout))))["words"])[1]["text"]
        == "CO"
    )


def test_sql_shows_wide_rows_one_record_per_block(settings: Settings, tmp_path: Path) -> None:
    analysts_snapshot(settings, tmp_path)
    result = runner.invoke(app, ["sql", "SELECT * FROM document_summary WHERE status = 'done'"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("-[ row ") == 3 and "│" not in result.stdout
    assert "\ndoc_id                  | doc-" in result.stdout
    pad = " " * len("weakest_word_confidence")
    assert f"\ntext{pad[4:]} | Invoice 42\n{pad} | PLEASE CO E AGAI!\n" in result.stdout

    narrow = "SELECT source_name, status FROM documents ORDER BY 1"
    assert "│" in runner.invoke(app, ["sql", narrow]).stdout  # fits: a table
    assert "-[ row 4 ]" in runner.invoke(app, ["sql", "--vertical", narrow]).stdout
    result = runner.invoke(app, ["sql", "--csv", "--json", narrow])
    assert result.exit_code == 2 and "choose one of" in result.output


def test_status_lists_the_documents_needing_review(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens there
    analysts_snapshot(settings, tmp_path)
    result = runner.invoke(app, ["status"])
    assert "Needs review: 2 document(s)" in result.output
    assert "april/invoice.pdf" in result.output and "1 of 7 words read" in result.output
    assert "blank.png" in result.output and "no text found" in result.output
    assert "letter.png" not in result.output
