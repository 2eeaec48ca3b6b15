"""The hot folder on disk: what counts as a candidate, what is refused, and the atomic claim.

A claim renames a ready file from inbox/<relative path> into processing/<claim id>/<relative
path>. A rename within one filesystem is atomic, so when two watchers race for one file exactly
one wins; the loser sees it gone and moves on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tool_ocr.models import InboxFile

log = logging.getLogger(__name__)

# Temporary, partial and system files: never candidates (TOOL_OCR_WATCH_IGNORE adds more).
IGNORED = (".*", "*.part", "*.partial", "*.tmp", "*.temp", "*.crdownload", "*.download",
           "*.swp", "~$*", "~*", "*~", "Thumbs.db", "desktop.ini", "*.error.json")
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse.sshfs", "afs",
                       "fuse.rclone", "davfs", "fuse.davfs2", "glusterfs", "ceph"}


@dataclass(frozen=True)
class Refusal:
    """A candidate that must not be processed, and why (it is quarantined)."""

    path: Path
    relative_path: str
    error_type: str
    reason: str


class Inbox:
    """Scanning, readiness checks and claims for one hot folder."""

    def __init__(self, inbox: Path, processing: Path, extra_ignore: str = "") -> None:
        self.root = inbox.resolve()
        self.processing = processing.resolve()
        self.patterns = IGNORED + tuple(p.strip() for p in extra_ignore.split(",") if p.strip())

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def ignored(self, path: Path) -> bool:
        """Temporary or system files, and anything inside a hidden folder."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return True
        return any(part.startswith(".") for part in parts[:-1]) or any(
            fnmatch.fnmatchcase(parts[-1], pattern) for pattern in self.patterns)

    def scan(self) -> Iterator[Path]:
        """Every non-ignored entry below the inbox that is not a folder (symlinks included)."""
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = Path(folder) / name
                if not self.ignored(path):
                    yield path

    def refusal(self, path: Path) -> Refusal | None:
        """Why `path` must not be processed (symlink, FIFO, device, outside), or None."""
        rel = self.relative(path)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(mode):
            target = os.path.realpath(path)
            where = "outside the hot folder" if not Path(target).is_relative_to(self.root) else ""
            return Refusal(path, rel, "unsupported_file",
                           f"symbolic link {where} ({target}): links are never followed; "
                           "copy the file itself into the inbox".replace("  ", " "))
        if not stat.S_ISREG(mode):
            return Refusal(path, rel, "unsupported_file",
                           "not a regular file (FIFO, socket or device): copy a file instead")
        return None

    def opens(self, path: Path) -> bool:
        """The file can be opened and read (a writer holding it exclusively is still busy)."""
        try:
            with path.open("rb") as f:
                f.read(1)
            return True
        except OSError as exc:
            log.debug("%s: not readable yet: %s", path, exc)
            return False

    def claim(self, paths: list[Path]) -> tuple[str, list[InboxFile]]:
        """Move `paths` into a fresh claim folder; returns (claim id, the files won)."""
        claim_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        won = []
        for path in paths:
            rel = self.relative(path)
            target = self.processing / claim_id / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(path, target)
            except FileNotFoundError:  # another watcher won it, or it was taken back
                remove_empty(target.parent, self.processing)
                continue
            won.append(describe_claimed(claim_id, target, rel))
        return claim_id, won

    def claims(self) -> dict[str, list[InboxFile]]:
        """Claim folders left in processing/ (by a watcher that stopped), with their files."""
        found: dict[str, list[InboxFile]] = {}
        for folder in sorted(p for p in self.processing.iterdir() if p.is_dir()):
            files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
            if files:
                found[folder.name] = [describe_claimed(folder.name, f, f.relative_to(
                    folder).as_posix()) for f in files]
            else:
                remove_empty(folder, self.processing)
        return found


def describe_claimed(claim_id: str, path: Path, relative_path: str) -> InboxFile:
    """The claimed file as the flow takes it, with its content hash."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return InboxFile(f"{claim_id}/{relative_path}", str(path), relative_path,
                     digest.hexdigest(), path.stat().st_size)


def remove_empty(folder: Path, stop: Path) -> None:
    """Remove `folder` and its empty parents up to (not including) `stop`."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def filesystem_type(path: Path) -> str:
    """The filesystem type of the mount holding `path` (from /proc/mounts), or ''."""
    best, fstype = "", ""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return ""
    resolved = str(path.resolve())
    for entry in mounts:
        fields = entry.split()
        if len(fields) > 2 and (resolved == fields[1] or resolved.startswith(
                fields[1].rstrip("/") + "/")) and len(fields[1]) > len(best):
            best, fstype = fields[1], fields[2]
    return fstype
