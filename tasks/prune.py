"""Prune: what outlived its retention leaves processed/, output/, duplicates/ and failed/.

A file expires by its mtime (placement sets it to when the file landed). A document's output
folder expires as one, when its newest file does; a quarantined file goes with its
`.error.json`, counted from the newer of the two (from when it failed). Never inbox/,
processing/, work/ or state/, nothing whose document is still in flight, and never through a
symlink: each removal walks down from the top folder with O_NOFOLLOW, so a link is removed as a
link and nothing outside the folders is reached, even if a folder is swapped for a link meanwhile.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from core.settings import Settings
from store import schema
from store.db import Store
from store.folders import ERROR_SUFFIX
from tasks.tracking import retry_transient

log = logging.getLogger(__name__)

FOLDERS = ("processed", "output", "duplicates", "failed")
_SHA8 = re.compile(r"-([0-9a-f]{8})$")  # output/<stem>-<first 8 hex of sha256>/
_LISTED = 50  # files listed in the UI artifact


@dataclass(frozen=True)
class Expired:
    """A file past its retention: where, in which top folder, how big, since when, whose."""

    path: Path
    folder: str  # one of FOLDERS
    size: int
    modified: datetime  # UTC; a symlink's own mtime, never its target's
    sha256: str | None = None


class _Unit(NamedTuple):
    """Files that expire together, keyed by their path below the top folder."""

    key: tuple[str, ...]
    items: tuple[Expired, ...]

    @property
    def prefix(self) -> str | None:
        """For a document's output folder, the first 8 hex of its sha256."""
        match = _SHA8.search(self.key[0]) if self.items[0].folder == "output" else None
        return match.group(1) if match else None


def find_expired(settings: Settings, now: datetime) -> list[Expired]:
    """Every file that may be pruned at `now`, folder by folder."""
    units = [
        unit
        for folder in FOLDERS
        for unit in _expired_units(
            folder, _root(settings, folder), now - _retention(settings, folder)
        )
    ]
    if not units:
        return []
    store = Store.from_settings(settings)
    units = _with_hashes(store, units)
    busy_documents = {sha256 for (sha256,) in store.read(schema.UNFINISHED_DOCUMENTS)}
    busy_paths = {location for (location,) in store.read(schema.UNFINISHED_FILES)}
    return [
        item
        for unit in units
        if not _in_flight(unit, busy_documents, busy_paths)
        for item in unit.items
    ]


@task(
    name="find-expired",
    task_run_name="find expired files",
    retries=3,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
def expired_files(settings: Settings) -> list[Expired]:
    """The files past their retention now (DuckDB says which are still in flight)."""
    return find_expired(settings, datetime.now(UTC))


@task(name="prune", task_run_name="prune expired files", cache_policy=NO_CACHE)
def prune(expired: list[Expired], settings: Settings, dry_run: bool = False) -> list[Expired]:
    """Remove the expired files, then the folders left empty; returns what was removed.

    A dry run removes nothing and returns `expired`. A file that vanished, changed or cannot be
    removed meanwhile is logged and skipped.
    """
    if dry_run:
        for item in expired:
            log.info(
                "%s: would be pruned from %s/ (%d bytes, modified %s)",
                _relative(settings, item),
                item.folder,
                item.size,
                _when(item),
            )
        return list(expired)
    removed = [item for item in expired if _remove(settings, item)]
    _remove_empty_folders(settings, removed)
    return removed


@task(
    name="record-pruned",
    task_run_name="record pruned files",
    retries=3,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
    cache_policy=NO_CACHE,
)
def record_pruned(removed: list[Expired], settings: Settings) -> None:
    """Record the removals in DuckDB; with prune_results, forget those documents' text too.

    Ordered so a retry repeats nothing: the updates and deletes are idempotent, and the one
    insert comes last, in its own transaction.
    """
    if not removed:
        return
    now = datetime.now(UTC)
    store = Store.from_settings(settings)
    store.write(schema.MARK_FILE_PRUNED, [(now, now, str(item.path)) for item in removed])
    if settings.prune_results:
        _forget_results(
            store,
            {
                item.sha256
                for item in removed
                if item.sha256 and item.folder in ("processed", "output")
            },
        )
    run_id = str(flow_run.id) if flow_run.id else None
    store.write(
        schema.RECORD_PRUNED,
        [
            (str(item.path), item.folder, item.sha256, item.size, item.modified, now, run_id)
            for item in removed
        ],
    )


def report(removed: list[Expired], dry_run: bool) -> dict[str, Any]:
    """Files and bytes per folder, as a dict and as the "prune-expired" artifact in the UI."""
    summary = summarize(removed, dry_run)
    log.info(
        "%s %d file(s), %s",
        "would prune" if dry_run else "pruned",
        summary["files"],
        _size(summary["bytes"]),
    )
    try:
        create_markdown_artifact(
            summary_markdown(summary, removed),
            key="prune-expired",
            description="prune-expired: files and bytes freed per folder",
        )
    except Exception as exc:  # the UI is a courtesy; the removals are recorded in DuckDB
        log.warning("artifact not created: %s", exc)
    return summary


def summarize(removed: Sequence[Expired], dry_run: bool) -> dict[str, Any]:
    """{dry_run, files, bytes, folders: {name: {files, bytes}}, paths}."""
    folders = {name: {"files": 0, "bytes": 0} for name in FOLDERS}
    for item in removed:
        folders[item.folder]["files"] += 1
        folders[item.folder]["bytes"] += item.size
    return {
        "dry_run": dry_run,
        "files": len(removed),
        "bytes": sum(item.size for item in removed),
        "folders": folders,
        "paths": [str(item.path) for item in removed],
    }


def summary_markdown(summary: dict[str, Any], removed: Sequence[Expired]) -> str:
    """The artifact's text: what was (or would be) freed per folder, then the files."""
    verb = "would be pruned (dry run: nothing removed)" if summary["dry_run"] else "pruned"
    text = [
        f"# {summary['files']} file(s), {_size(summary['bytes'])} {verb}",
        "",
        "| folder | files | bytes |",
        "|---|---|---|",
    ]
    text += [
        f"| {name} | {counts['files']} | {_size(counts['bytes'])} |"
        for name, counts in summary["folders"].items()
    ]
    if removed:
        shown = f"first {_LISTED} of {len(removed)}" if len(removed) > _LISTED else "all"
        text += ["", f"## Files ({shown})", ""]
        text += [
            f"- {item.folder}: `{item.path}` ({_size(item.size)}, modified {_when(item)})"
            for item in removed[:_LISTED]
        ]
    return "\n".join(text)


def _root(settings: Settings, folder: str) -> Path:
    return settings.folders()[folder]


def _retention(settings: Settings, folder: str) -> timedelta:
    hours = settings.failed_retention_hours if folder == "failed" else settings.retention_hours
    return timedelta(hours=hours)


def _relative(settings: Settings, item: Expired) -> str:
    return item.path.relative_to(_root(settings, item.folder)).as_posix()


def _when(item: Expired) -> str:
    return f"{item.modified:%Y-%m-%d %H:%M} UTC"


def _modified(stat: os.stat_result) -> datetime:
    return datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC)


def _expired_units(folder: str, root: Path, cutoff: datetime) -> list[_Unit]:
    """The units under `root` whose newest file is older than `cutoff`."""
    groups: dict[tuple[str, ...], list[Expired]] = defaultdict(list)
    for path, stat in _scan(root):
        key = _unit_key(folder, path.relative_to(root).parts)
        groups[key].append(Expired(path, folder, stat.st_size, _modified(stat)))
    return [
        _Unit(key, tuple(sorted(items, key=lambda item: item.path)))
        for key, items in sorted(groups.items())
        if max(item.modified for item in items) < cutoff
    ]


def _unit_key(folder: str, parts: tuple[str, ...]) -> tuple[str, ...]:
    """A document's output folder is one unit; so is a quarantined file with its report."""
    if folder == "output":
        return parts[:1]
    if folder == "failed":
        return (*parts[:-1], parts[-1].removesuffix(ERROR_SUFFIX))
    return parts


def _scan(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files and symlinks below `root` (their own stat), never entering a link."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s: not scanned for pruning: %s", folder, exc)
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_symlink() or entry.is_file(follow_symlinks=False):
                    yield Path(entry.path), entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue


def _with_hashes(store: Store, units: list[_Unit]) -> list[_Unit]:
    """The units with their document's sha256, where DuckDB knows it."""
    locations = [str(item.path) for unit in units if unit.prefix is None for item in unit.items]
    prefixes = sorted({unit.prefix for unit in units if unit.prefix})
    by_path = dict(store.read(schema.KNOWN_LOCATIONS, [locations])) if locations else {}
    by_prefix: dict[str, set[str]] = defaultdict(set)
    for (sha256,) in store.read(schema.DOCUMENTS_BY_PREFIX, [prefixes]) if prefixes else []:
        by_prefix[sha256[:8]].add(sha256)

    def sha256_of(unit: _Unit) -> str | None:
        if unit.prefix:  # two documents sharing 8 hex digits: not told apart, left unknown
            known = by_prefix.get(unit.prefix, set())
            return next(iter(known)) if len(known) == 1 else None
        return next((by_path[str(i.path)] for i in unit.items if by_path.get(str(i.path))), None)

    return [
        _Unit(unit.key, tuple(replace(item, sha256=sha256_of(unit)) for item in unit.items))
        for unit in units
    ]


def _in_flight(unit: _Unit, busy_documents: set[str], busy_paths: set[str]) -> bool:
    """True when the unit belongs to a document or an arrival still being processed."""
    busy = (
        unit.items[0].sha256 in busy_documents
        or any(str(item.path) in busy_paths for item in unit.items)
        or (
            unit.prefix is not None
            and any(sha256.startswith(unit.prefix) for sha256 in busy_documents)
        )
    )
    if busy:
        log.debug("%s: kept, its document is still being processed", unit.items[0].path)
    return busy


@contextmanager
def _directory(root: Path, parts: Sequence[str]) -> Iterator[int]:
    """A descriptor of root/parts…, opened one level at a time, refusing any symlink."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _remove(settings: Settings, item: Expired) -> bool:
    """Unlink one file (a link as a link) unless it vanished or changed; True when removed."""
    name = _relative(settings, item)
    *parents, last = item.path.relative_to(_root(settings, item.folder)).parts
    try:
        with _directory(_root(settings, item.folder), parents) as fd:
            if _modified(os.stat(last, dir_fd=fd, follow_symlinks=False)) != item.modified:
                log.warning("%s: changed since it was found expired, kept", name)
                return False
            os.unlink(last, dir_fd=fd)
    except FileNotFoundError:
        log.warning("%s: vanished from %s/ before it could be pruned", name, item.folder)
        return False
    except OSError as exc:  # a folder swapped for a link (ELOOP), a directory, permissions
        log.warning("%s: not pruned from %s/: %s", name, item.folder, exc)
        return False
    log.info(
        "%s: pruned from %s/ (%d bytes, modified %s)", name, item.folder, item.size, _when(item)
    )
    return True


def _remove_empty_folders(settings: Settings, removed: Sequence[Expired]) -> None:
    """Remove the folders the removals left empty, deepest first; never a top folder."""
    folders = {
        (item.folder, parts[:depth])
        for item in removed
        for parts in [item.path.relative_to(_root(settings, item.folder)).parts]
        for depth in range(1, len(parts))
    }
    for folder, parts in sorted(folders, key=lambda entry: -len(entry[1])):
        try:
            with _directory(_root(settings, folder), parts[:-1]) as fd:
                os.rmdir(parts[-1], dir_fd=fd)
        except OSError:  # not empty, already gone, or not a folder: left alone
            continue
        log.debug("removed empty folder %s/%s", folder, "/".join(parts))


def _forget_results(store: Store, hashes: set[str]) -> None:
    """Delete the pages and lines of documents whose files were pruned (final states only)."""
    final = [
        (sha256, rows[0][0])
        for sha256 in sorted(hashes)
        if (rows := store.read(schema.DOCUMENT_DOC_ID, [sha256])) and rows[0][1] != "processing"
    ]
    store.write(schema.FORGET_DOCUMENT_LINES, [(doc_id,) for _, doc_id in final])
    store.write(schema.FORGET_DOCUMENT_PAGES, [(sha256,) for sha256, _ in final])
    for sha256, _ in final:
        log.info("%s: pages and lines deleted from DuckDB (prune_results)", sha256[:12])


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
