"""The command line as a user runs it: exit codes, what it prints, help for every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import text_page
from core.settings import Settings
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
