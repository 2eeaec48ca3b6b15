"""Moving files on disk: atomic renames that never overwrite, atomic JSON, empty folders gone."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ERROR_SUFFIX = ".error.json"


def move(path: Path, root: Path, relative_path: str) -> Path:
    """Move `path` to `root/relative_path`, never over an existing file: 'a (2).pdf' etc."""
    target = free_target(root, relative_path)
    rename(path, target)
    return target


def free_target(root: Path, relative_path: str) -> Path:
    """`root/relative_path`, or 'name (2).ext' etc. when taken (by a file or its report)."""
    target = root / relative_path
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists() or target.is_symlink():
        n += 1
        target = target.with_name(f"{stem} ({n}){suffix}")
    return target


def rename(path: Path, target: Path) -> None:
    """Move one file (a link as itself); its retention clock starts now.

    A file with other hard links is copied and its own name removed: setting the times of a
    shared inode would change a file outside the folders."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.lstat(path).st_nlink > 1 and not path.is_symlink():
        _copy_out(path, target)
        return
    os.utime(path, follow_symlinks=False)  # a rename keeps the mtime; prune counts from here
    try:
        os.rename(path, target)
    except FileNotFoundError:
        if not path.exists():
            raise
        target.parent.mkdir(parents=True, exist_ok=True)  # prune removed the empty folder
        os.rename(path, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another filesystem: copy, then delete
            raise
        shutil.move(path, target)


def _copy_out(path: Path, target: Path) -> None:
    """Copy `path` to a new inode at `target` (under a temporary name, then renamed), then
    remove `path`'s own name."""
    temporary = target.with_name(f".{target.name}.copy")
    shutil.copyfile(path, temporary)
    os.replace(temporary, target)
    path.unlink()


def work_folder(work: Path, sha256: str, run: str) -> Path:
    """Where one run's page rasters live while it reads a document; two runs never share one."""
    return work / f"{sha256[:16]}-{run[:8]}"


def discard_work(work: Path, sha256: str) -> None:
    """Remove every run's rasters of a document, a killed run's included."""
    for folder in work.glob(f"{sha256[:16]}-*"):
        shutil.rmtree(folder, ignore_errors=True)


def remove_empty_tree(folder: Path, stop: Path) -> None:
    """Remove the empty folders inside `folder`, then `folder` itself if empty (up to `stop`)."""
    for sub in sorted(
        (p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: -len(p.parts),
    ):
        remove_empty(sub, folder)
    remove_empty(folder, stop)


def remove_empty(folder: Path, stop: Path) -> None:
    """Remove `folder` and its empty parents up to (not including) `stop`."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def write_json(path: Path, body: dict[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str), "utf-8")
    os.replace(tmp, path)
