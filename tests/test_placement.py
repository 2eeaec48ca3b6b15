"""Placement: each claimed file ends in processed/, duplicates/ or failed/, recorded in DuckDB
(store/placement.py), and the claim folder's marks (store/claims.py)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.settings import Settings
from core.values import InboxFile, Line, Outputs, Page, Source
from store import claims, schema
from store.db import Store
from store.folders import move, write_json
from store.placement import place, place_duplicate, quarantine, refused
from store.rows import Attempt
from tasks.artifacts import summary_markdown

NOW = datetime.now(UTC)


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


def settle(settings: Settings, item: InboxFile, outcome: dict[str, object]) -> dict[str, object]:
    return place(item, outcome, Store.from_settings(settings), settings, "run-1")


DONE = {"status": "done"}


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
    placed = settle(settings, item, DONE)
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
    settle(settings, first, DONE)
    second = claimed(settings, "b.png", b"same bytes")
    placed = settle(settings, second, DONE)
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
    placed = settle(settings, item, DONE)
    assert placed["status"] == "processed"


def test_a_failed_file_is_quarantined_with_its_reason_beside_it(settings: Settings) -> None:
    (settings.failed / "in" / "box").mkdir(parents=True)
    (settings.failed / "in" / "box" / "bad.pdf").write_bytes(b"an earlier bad.pdf")
    item = claimed(settings, "in/box/bad.pdf", b"%PDF-1.4 garbage")
    store = Store.from_settings(settings)
    store.record_attempt(
        Attempt(
            "ingest",
            1,
            NOW,
            NOW,
            "FAILED",
            item.sha256,
            None,
            "run-1",
            "task-1",
            "corrupt_file",
            "bad.pdf: no PDF structure",
        )
    )
    outcome = {
        "status": "failed",
        "error_type": "corrupt_file",
        "error_message": "bad.pdf: no PDF structure",
    }
    target = Path(settle(settings, item, outcome)["location"])
    assert target == settings.failed / "in" / "box" / "bad (2).pdf"  # the earlier one is kept
    report = json.loads((target.parent / "bad (2).pdf.error.json").read_text())
    assert report["error_type"] == "corrupt_file" and "no PDF structure" in report["reason"]
    assert [a["task_name"] for a in report["attempts"]] == ["ingest"]
    assert report["file"] == "in/box/bad.pdf" and report["flow_run_id"] == "run-1"
    assert files_row(settings, item.file_id)[3] == "corrupt_file"


def test_quarantine_moves_a_link_itself_never_its_target(
    settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.png"
    target.write_bytes(b"keep me")
    link = settings.inbox / "link.png"
    link.symlink_to(target)
    store = Store.from_settings(settings)
    moved = quarantine(
        link, refused("link.png"), "unsupported_file", "symbolic link", store, settings
    )
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

    monkeypatch.setattr("store.placement.rename", killed)
    with pytest.raises(KeyboardInterrupt):
        settle(settings, item, DONE)
    monkeypatch.undo()
    first = files_row(settings, item.file_id)[1]
    again = settle(settings, item, DONE)  # the watcher settles it again
    assert again == {"status": "processed", "location": first}
    assert Path(first).read_bytes() == b"killed mid-placement"
    assert settle(settings, item, DONE)["location"] == first  # and again: nothing moves


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
    assert settle(settings, early, DONE)["status"] == "duplicate"
    assert settle(settings, late, DONE)["status"] == "processed"


def test_a_claim_whose_process_died_is_told_from_a_live_one(settings: Settings) -> None:
    folder = settings.processing / "claim-9"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid, died in ((dead.pid, True), (os.getpid(), False)):
        write_json(
            folder / claims.RUN, {"flow_run_id": "run-1", "host": socket.gethostname(), "pid": pid}
        )
        assert claims.run_died(folder, "run-1") is died
    assert claims.run_died(folder, "another-run") is False


def test_another_machines_run_is_dead_once_its_mark_goes_stale(settings: Settings) -> None:
    folder = settings.processing / "claim-8"
    folder.mkdir()
    write_json(folder / claims.RUN, {"flow_run_id": "run-2", "host": "elsewhere", "pid": 1})
    assert claims.run_died(folder, "run-2") is False  # touched just now
    old = time.time() - claims.STALE_RUN - 5
    os.utime(folder / claims.RUN, (old, old))
    assert claims.run_died(folder, "run-2") is True


def test_a_claims_marks_count_crashes_and_submissions_across_restarts(settings: Settings) -> None:
    folder = settings.processing / "claim-7"
    folder.mkdir()
    assert (claims.submissions(folder), claims.count_submission(folder)) == (0, 1)
    assert claims.count_crash(folder) == 1 and claims.count_crash(folder) == 2
    claims.clear_run(folder)  # a new run: its marks go, the counts stay
    assert claims.submissions(folder) == 1 and claims.count_crash(folder) == 3
    claims.release(folder, settings.processing)
    assert not folder.exists()


def test_a_hard_linked_file_is_copied_out_never_touched_through_its_other_name(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"shared inode")
    old = time.time() - 3 * 86400
    os.utime(outside, (old, old))
    linked = settings.inbox / "linked.png"
    os.link(outside, linked)
    moved = move(linked, settings.processed, "linked.png")
    assert moved.read_bytes() == b"shared inode" and not linked.exists()
    assert outside.stat().st_mtime == pytest.approx(old, abs=1)  # its times are untouched
    assert outside.stat().st_nlink == 1 and moved.stat().st_ino != outside.stat().st_ino


def test_content_already_done_is_placed_as_a_duplicate_without_a_run(settings: Settings) -> None:
    first = claimed(settings, "first.png", b"twice")
    done_document(settings, first)
    settle(settings, first, DONE)
    second = claimed(settings, "second.png", b"twice")
    store = Store.from_settings(settings)
    original = store.read(schema.ORIGINAL_OF, [second.sha256])[0][:2]
    result = place_duplicate(second, original, store, settings, None)
    assert result["status"] == "duplicate" and Path(result["location"]).read_bytes() == b"twice"
