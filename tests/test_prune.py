"""Prune: real files back-dated with os.utime in every folder, a real DuckDB, the real flow."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, LogFilter
from prefect.logging.handlers import APILogHandler

from core.settings import Settings
from core.values import EngineInfo, Line, Outputs, Page, Source
from flows.prune_expired import prune_expired
from store import schema
from store.db import Store
from store.snapshot import query_snapshot
from tasks.prune import find_expired, prune

OLD, YOUNG, ANCIENT = 48.0, 1.0, 400.0  # hours; retention 24 h, failed/ 336 h (defaults)
ENGINE = EngineInfo("paddleocr", "3.7.0", {})
PAGES = (Page(1, 595.0, 842.0, "ocr", lines=(Line("Invoice 42", 0.9, (72, 72, 150, 86)),)),)


@dataclass
class World:
    """Files in every folder; which must go and which must stay."""

    settings: Settings
    expired: set[Path]
    kept: set[Path]
    done: Source  # its output folder and original expire
    young_done: Source  # its output folder holds a young file: stays with its text

    def folder_of(self, path: Path) -> str:
        return next(
            name for name, root in self.settings.folders().items() if path.is_relative_to(root)
        )


def aged(path: Path, hours: float, size: int = 100) -> Path:
    """A file of `size` bytes whose mtime lies `hours` in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return back_date(path, hours)


def back_date(path: Path, hours: float) -> Path:
    when = time.time() - hours * 3600
    os.utime(path, (when, when), follow_symlinks=False)
    return path


def link(path: Path, target: Path, hours: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return back_date(path, hours)


def document(settings: Settings, name: str) -> Source:
    sha256 = hashlib.sha256(name.encode()).hexdigest()
    return Source(settings.processing / name, name, sha256, "png", 100, 1)


def outputs(settings: Settings, source: Source, hours: dict[str, float]) -> list[Path]:
    folder = Outputs.for_source(settings.output, source).pdf.parent
    return [aged(folder / f"{source.stem}.{ext}", age) for ext, age in hours.items()]


def place(store: Store, path: Path, status: str, sha256: str | None) -> None:
    now = datetime.now(UTC)
    store.write(
        schema.PLACE_FILE,
        [
            (
                f"claim/{path.name}",
                path.name,
                sha256,
                100,
                status,
                str(path),
                None,
                None,
                None,
                None,
                now,
                now,
                now,
            )
        ],
    )


def live(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return Store.from_settings(settings).read(sql, params)


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> World:
    s, store = settings, Store.from_settings(settings)
    done, busy, young_done = (document(s, n) for n in ("a.png", "b.png", "c.png"))
    for source in (done, young_done):
        store.start_document(source, flow_run_id="run-1")
        store.finish_document(
            source, PAGES, Outputs.for_source(s.output, source), ENGINE, status="done"
        )
    store.start_document(busy, flow_run_id="run-2")  # still being processed
    outside = aged(tmp_path / "outside" / "target.png", ANCIENT)
    original = aged(s.processed / "2025/01/01/a.png", OLD)
    claimed = aged(s.processed / "2025/01/03/claimed.png", OLD)
    place(store, original, "processed", done.sha256)
    place(store, claimed, "processing", None)  # a row still processing points here
    expired = {
        original,
        *outputs(s, done, {"pdf": OLD, "txt": OLD, "json": ANCIENT}),
        aged(s.duplicates / "scans/a.png", OLD, size=300),
        aged(s.failed / "f.png", ANCIENT),
        aged(s.failed / "f.png.error.json", ANCIENT, 20),
        link(s.processed / "2025/01/01/outside.png", outside, OLD),
        link(s.processed / "2025/01/01/outside-folder", outside.parent, OLD),
    }
    kept = {
        outside,
        claimed,
        aged(s.processed / "2025/01/02/young.png", YOUNG),
        aged(s.inbox / "old.png", ANCIENT),
        aged(s.processing / "c1/old.png", ANCIENT),
        aged(s.work / "run/page-1.png", ANCIENT),
        aged(s.state / "old.log", ANCIENT),
        *outputs(s, busy, {"pdf": OLD}),
        *outputs(s, young_done, {"pdf": OLD, "txt": YOUNG}),
        aged(s.failed / "e.png", OLD),
        aged(s.failed / "e.png.error.json", OLD),
        aged(s.failed / "g.png", ANCIENT),
        aged(s.failed / "g.png.error.json", YOUNG),
    }
    return World(s, expired, kept, done, young_done)


def exists(path: Path) -> bool:
    return os.path.lexists(path)


# Finding: the rules, without Prefect


def test_find_expired_is_exactly_the_expired_set(world: World) -> None:
    found = find_expired(world.settings, datetime.now(UTC))
    assert {item.path for item in found} == world.expired
    assert all(item.folder == world.folder_of(item.path) for item in found)
    by_path = {item.path: item for item in found}
    original = world.settings.processed / "2025/01/01/a.png"
    assert by_path[original].sha256 == world.done.sha256  # known from its `files` row
    pdf = Outputs.for_source(world.settings.output, world.done).pdf
    assert by_path[pdf].sha256 == world.done.sha256  # known from its folder's sha256 prefix
    assert by_path[pdf].size == pdf.stat().st_size


def test_failed_retention_is_its_own_and_counts_from_the_report(world: World) -> None:
    s = world.settings
    in_a_month = datetime.now(UTC) + timedelta(days=30)
    found = {item.path for item in find_expired(s, in_a_month)}
    assert {s.failed / "g.png", s.failed / "g.png.error.json"} <= found
    assert not found & {s.inbox / "old.png", s.processing / "c1/old.png", s.state / "old.log"}
    shorter = s.model_copy(update={"failed_retention_hours": 24.0})
    found = {item.path for item in find_expired(shorter, datetime.now(UTC))}
    assert {s.failed / "e.png", s.failed / "e.png.error.json"} <= found
    assert s.failed / "g.png" not in found  # its report is an hour old


def test_vanished_changed_or_redirected_files_are_skipped(world: World, tmp_path: Path) -> None:
    s = world.settings
    found = find_expired(s, datetime.now(UTC))
    vanished, changed = s.failed / "f.png", s.duplicates / "scans/a.png"
    vanished.unlink()
    back_date(changed, OLD - 1)
    day = s.processed / "2025/01/01"  # swapped for a link to a look-alike outside
    decoy = tmp_path / "decoy"
    day.rename(tmp_path / "moved-day")
    look_alike = aged(decoy / "a.png", OLD)
    stamp = (tmp_path / "moved-day/a.png").stat().st_mtime_ns
    os.utime(look_alike, ns=(stamp, stamp))  # same name, same mtime: only the link differs
    day.symlink_to(decoy)
    removed = {item.path for item in prune.fn(found, s)}
    assert removed == world.expired - {vanished, changed} - {
        item.path for item in found if item.path.is_relative_to(day)
    }
    assert (decoy / "a.png").exists() and changed.exists() and day.is_symlink()
    assert all(exists(path) for path in world.kept)


# The flow, for real

uses_prefect = pytest.mark.usefixtures("prefect_server")


@uses_prefect
def test_dry_run_lists_exactly_the_expired_files_and_removes_nothing(world: World) -> None:
    state = prune_expired(dry_run=True, return_state=True)
    result = state.result()
    assert result["dry_run"] is True
    assert set(result["paths"]) == {str(path) for path in world.expired}
    assert all(exists(path) for path in world.expired | world.kept)
    assert live(world.settings, "SELECT count(*) FROM pruned_files") == [(0,)]
    assert live(world.settings, "SELECT count(*) FROM files WHERE location IS NULL") == [(0,)]
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id={"any_": [state.state_details.flow_run_id]})
        )
    assert artifact.key == "prune-expired" and "dry run" in str(artifact.data)
    assert f"{len(world.expired)} file(s)" in str(artifact.data)


@uses_prefect
def test_prune_removes_only_expired_files_and_records_them(world: World) -> None:
    s = world.settings
    freed = sum(path.lstat().st_size for path in world.expired)
    state = prune_expired(return_state=True)
    result = state.result()
    assert not any(exists(path) for path in world.expired)
    assert all(exists(path) for path in world.kept)  # the link's target included
    assert not (s.processed / "2025/01/01").exists() and not (s.duplicates / "scans").exists()
    assert not Outputs.for_source(s.output, world.done).pdf.parent.exists()
    assert all(root.is_dir() for root in s.folders().values())
    assert (result["files"], result["bytes"]) == (len(world.expired), freed)
    assert result["folders"]["failed"]["files"] == 2
    assert result["folders"]["duplicates"] == {"files": 1, "bytes": 300}

    rows = live(s, "SELECT path, folder, sha256, flow_run_id FROM pruned_files")
    assert {(Path(p), f) for p, f, _, _ in rows} == {
        (path, world.folder_of(path)) for path in world.expired
    }
    assert {run for *_, run in rows} == {str(state.state_details.flow_run_id)}
    assert live(
        s, "SELECT relative_path, location IS NULL, pruned_at IS NOT NULL FROM files ORDER BY 1"
    ) == [("a.png", True, True), ("claimed.png", False, False)]
    assert query_snapshot(s.snapshot, "SELECT count(*) FROM pruned_files")[1] == [(len(rows),)]
    assert live(s, "SELECT count(*) FROM pages") == [(2,)]  # text results stay by default
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id={"any_": [state.state_details.flow_run_id]}))
    assert any(log.message.startswith("2025/01/01/a.png: pruned from processed/") for log in logs)

    again = prune_expired()
    assert again["files"] == 0 and all(exists(path) for path in world.kept)


@uses_prefect
def test_prune_results_deletes_pruned_documents_pages_and_lines(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_PRUNE_RESULTS", "true")
    prune_expired()
    s, gone, kept = world.settings, world.done, world.young_done
    assert live(s, "SELECT sha256 FROM pages") == [(kept.sha256,)]
    assert live(s, "SELECT DISTINCT doc_id FROM lines") == [(kept.doc_id,)]
    assert live(s, "SELECT status FROM documents WHERE sha256 = ?", gone.sha256) == [("done",)]
