"""Placement: each claimed file ends in processed/, duplicates/ or failed/, recorded in DuckDB."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import CorruptFileError
from core.settings import Settings
from core.values import InboxFile, Line, Outputs, Page, Source
from store import schema
from store.db import Store
from store.folders import RUN_MARKER, claim_process_died, move, quarantine, write_json
from tasks.artifacts import summary_markdown
from tasks.place import place_file


def claimed(settings: Settings, relative_path: str, content: bytes) -> InboxFile:
    """A file as the watcher leaves it: in processing/<claim>/<relative path>."""
    path = settings.processing / "claim-1" / relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    old = time.time() - 10 * 86400  # a scan made long ago: retention must count from placing
    os.utime(path, (old, old))
    return InboxFile(
        f"claim-1/{relative_path}",
        str(path),
        relative_path,
        hashlib.sha256(content).hexdigest(),
        len(content),
    )


def files_row(settings: Settings, file_id: str) -> tuple[object, ...]:
    rows = Store.from_settings(settings).read(
        "SELECT status, location, duplicate_of, error_type, error_message FROM files "
        "WHERE file_id = ?",
        [file_id],
    )
    assert len(rows) == 1
    return rows[0]


def done_document(settings: Settings, item: InboxFile) -> Source:
    source = Source(Path(item.path), Path(item.path).name, item.sha256, "png", item.size, 1)
    store = Store.from_settings(settings)
    store.start_document(source, flow_run_id=None, relative_path=item.relative_path)
    store.finish_document(source, [], None, None, status="done")
    return source


def test_a_processed_file_moves_to_a_dated_folder_and_its_document_follows(
    settings: Settings,
) -> None:
    item = claimed(settings, "letters/scan.png", b"scan one")
    done_document(settings, item)
    placed = place_file.fn(item, {"status": "done"}, settings)
    target = Path(placed["location"])
    assert target.relative_to(settings.processed).parts[3:] == ("letters", "scan.png")
    assert time.strftime("%Y/%m/%d") in str(target)
    assert target.read_bytes() == b"scan one" and not Path(item.path).exists()
    assert time.time() - target.stat().st_mtime < 60
    assert files_row(settings, item.file_id)[:2] == ("processed", str(target))
    rows = Store.from_settings(settings).read(
        "SELECT source_path FROM documents WHERE sha256 = ?", [item.sha256]
    )
    assert rows == [(str(target),)]


def test_the_same_content_again_is_a_duplicate_pointing_at_the_original(settings: Settings) -> None:
    first = claimed(settings, "a.png", b"same bytes")
    done_document(settings, first)
    place_file.fn(first, {"status": "done"}, settings)
    second = claimed(settings, "b.png", b"same bytes")
    placed = place_file.fn(second, {"status": "skipped"}, settings)
    assert placed["status"] == "duplicate"
    assert Path(placed["location"]) == settings.duplicates / "b.png"
    status, _, duplicate_of, _, message = files_row(settings, second.file_id)
    doc_id = Store.from_settings(settings).read(schema.ORIGINAL_OF, [first.sha256])[0][0]
    assert (status, duplicate_of) == ("duplicate", doc_id) and "a.png" in str(message)


def test_a_rerun_of_a_file_whose_results_landed_is_processed_not_a_duplicate(
    settings: Settings,
) -> None:
    item = claimed(settings, "c.png", b"crashed after record")
    done_document(settings, item)  # its own run stored it, then died before placing it
    placed = place_file.fn(item, {"status": "skipped"}, settings)
    assert placed["status"] == "processed"


def test_a_failed_file_is_quarantined_with_its_reason_beside_it(settings: Settings) -> None:
    (settings.failed / "in" / "box").mkdir(parents=True)
    (settings.failed / "in" / "box" / "bad.pdf").write_bytes(b"an earlier bad.pdf")
    item = claimed(settings, "in/box/bad.pdf", b"%PDF-1.4 garbage")
    attempts = [{"task_name": "ingest", "attempt": 1, "state": "FAILED"}]
    placed = place_file.fn(item, CorruptFileError("bad.pdf: no PDF structure"), settings, attempts)
    target = Path(placed["location"])
    assert target == settings.failed / "in" / "box" / "bad (2).pdf"  # the earlier one is kept
    report = json.loads((target.parent / "bad (2).pdf.error.json").read_text())
    assert report["error_type"] == "corrupt_file" and "no PDF structure" in report["reason"]
    assert report["attempts"] == attempts and report["file"] == "in/box/bad.pdf"
    assert files_row(settings, item.file_id)[3] == "corrupt_file"


def test_quarantine_moves_a_link_itself_never_its_target(
    settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.png"
    target.write_bytes(b"keep me")
    link = settings.inbox / "link.png"
    link.symlink_to(target)
    moved = quarantine(link, "link.png", "unsupported_file", "symbolic link", settings)
    assert moved.is_symlink() and target.read_bytes() == b"keep me"
    assert (settings.failed / "link.png.error.json").exists()


def test_move_never_overwrites(tmp_path: Path) -> None:
    for n in range(3):
        (tmp_path / f"in{n}").write_bytes(bytes([n]))
        move(tmp_path / f"in{n}", tmp_path / "out", "x.png")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "x (2).png",
        "x (3).png",
        "x.png",
    ]


def test_the_summary_artifact_names_pages_weak_lines_and_outputs(tmp_path: Path) -> None:
    source = Source(tmp_path / "a.png", "a.png", "ab" * 32, "png", 10, 1)
    page = Page(
        1,
        595,
        842,
        "ocr",
        lines=(Line("Total 42", 0.95, (0, 0, 1, 1)), Line("smudged | line", 0.41, (0, 2, 1, 3))),
    )
    text = summary_markdown(source, [page], Outputs.for_source(tmp_path, source), 0.8)
    assert "1 page(s), 2 line(s), mean confidence 0.680, 1 line(s) below 0.8" in text
    assert "smudged \\| line" in text and "Total 42" not in text.split("Lowest")[1]
    assert "a.pdf" in text and "a.xlsx" in text


def test_a_run_killed_between_row_and_rename_is_placed_again_to_the_same_target(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = claimed(settings, "d.png", b"killed mid-placement")
    done_document(settings, item)

    def killed(path: Path, target: Path) -> None:
        raise KeyboardInterrupt("the run's process is killed")

    monkeypatch.setattr("tasks.place.rename", killed)
    with pytest.raises(KeyboardInterrupt):
        place_file.fn(item, {"status": "done"}, settings)
    monkeypatch.undo()
    first = files_row(settings, item.file_id)[1]
    placed = place_file.fn(item, {"status": "skipped"}, settings)  # the rerun: content done
    assert placed == {"status": "processed", "location": first}
    assert Path(first).read_bytes() == b"killed mid-placement"
    assert place_file.fn(item, {"status": "done"}, settings)["location"] == first  # a retry


def test_copies_processed_by_overlapping_runs_end_as_one_processed_and_a_duplicate(
    settings: Settings,
) -> None:
    early = claimed(settings, "early.png", b"same scan twice")
    late = claimed(settings, "late.png", b"same scan twice")
    store = Store.from_settings(settings)
    sources = [
        Source(Path(f.path), Path(f.path).name, f.sha256, "png", f.size, 1) for f in (early, late)
    ]
    for source in sources:  # both runs start before either ends: the later start owns it
        store.start_document(source, flow_run_id=None)
    for source in sources:
        store.finish_document(source, [], None, None, status="done")
    assert place_file.fn(early, {"status": "done"}, settings)["status"] == "duplicate"
    assert place_file.fn(late, {"status": "done"}, settings)["status"] == "processed"


def test_a_claim_whose_process_died_is_told_from_a_live_one(settings: Settings) -> None:
    folder = settings.processing / "claim-9"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid, died in ((dead.pid, True), (os.getpid(), False)):
        write_json(
            folder / RUN_MARKER, {"flow_run_id": "run-1", "host": socket.gethostname(), "pid": pid}
        )
        assert claim_process_died(folder, "run-1") is died
    assert claim_process_died(folder, "another-run") is False
