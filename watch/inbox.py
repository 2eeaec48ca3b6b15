"""The hot folder on disk: what counts as a candidate, what is refused, and the atomic claim.

A claim renames a ready file from inbox/<relative path> into processing/<claim id>/<relative
path>, one file per claim. A rename within one filesystem is atomic, so when two watchers race
for one file exactly one wins; the loser sees it gone and moves on. A file with other hard
links is copied into its claim instead (its inode is shared with a file outside the inbox).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import ConfigError
from core.values import InboxFile
from store import claims
from store.folders import remove_empty, rename

log = logging.getLogger(__name__)

# Temporary, partial and system files: never candidates (TOOL_OCR_WATCH_IGNORE adds more).
IGNORED = (
    ".*",
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.swp",
    "~$*",
    "~*",
    "*~",
    "Thumbs.db",
    "desktop.ini",
    "*.error.json",
)
NETWORK_FILESYSTEMS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "9p",
    "fuse.sshfs",
    "afs",
    "fuse.rclone",
    "davfs",
    "fuse.davfs2",
    "glusterfs",
    "ceph",
}


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

    def check(self) -> None:
        """Claims are renames: the inbox and processing/ must share one filesystem."""
        if self.root.stat().st_dev != self.processing.stat().st_dev:
            raise ConfigError(
                f"the inbox {self.root} and the processing folder "
                f"{self.processing} are on different filesystems; claims are "
                "atomic renames, so put both on the same one"
            )

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def ignored(self, path: Path) -> bool:
        """Temporary or system files, and anything inside a hidden folder."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return True
        return any(part.startswith(".") for part in parts[:-1]) or any(
            fnmatch.fnmatchcase(parts[-1], pattern) for pattern in self.patterns
        )

    def scan(self) -> Iterator[Path]:
        """Every non-ignored entry below the inbox that is not a folder (symlinks included)."""
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                path = Path(folder) / name
                if not self.ignored(path):
                    yield path

    def refusal(self, path: Path) -> Refusal | None:
        """Why `path` must not be processed (symlink, FIFO, device, a name that is not UTF-8),
        or None."""
        rel = self.relative(path)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return None
        if not encodable(rel):
            return Refusal(path, safe_name(rel), "unsupported_file", _bad_name(rel))
        if stat.S_ISLNK(mode):
            target = os.path.realpath(path)
            where = "outside the hot folder" if not Path(target).is_relative_to(self.root) else ""
            return Refusal(
                path,
                rel,
                "unsupported_file",
                f"symbolic link {where} ({target}): links are never followed; "
                "copy the file itself into the inbox".replace("  ", " "),
            )
        if not stat.S_ISREG(mode):
            return Refusal(
                path,
                rel,
                "unsupported_file",
                "not a regular file (FIFO, socket or device): copy a file instead",
            )
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

    def claim(self, path: Path) -> tuple[Path, InboxFile] | None:
        """Move `path` into a fresh claim folder; returns (claim folder, the file as the flow
        takes it), or None when another watcher won it (or it is gone).

        The folder is built under a hidden name and renamed when complete, so another watcher
        recovering claims never sees half of one."""
        claim_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        building = self.processing / f".{claim_id}"
        rel = self.relative(path)
        target = building / rel
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            rename(path, target)  # copies a hard-linked file out instead
        except OSError as exc:  # gone: another watcher won it; anything else: next round
            if not isinstance(exc, FileNotFoundError):
                log.warning("%s: could not be claimed: %s", rel, exc)
            remove_empty(target.parent, self.processing)
            return None
        folder = self.processing / claim_id
        os.rename(building, folder)
        return folder, describe_claimed(claim_id, folder / rel, rel)

    def claims(self, stale_after: float = 600.0) -> dict[Path, InboxFile]:
        """Claim folders left in processing/ (by a watcher that stopped), with their file.

        A hidden folder still being built by a watcher that died is finished here once it has
        not changed for `stale_after` seconds; an empty claim folder is removed."""
        for folder in self.processing.glob(".*"):
            if folder.is_dir() and time.time() - folder.stat().st_mtime > stale_after:
                os.rename(folder, folder.with_name(folder.name[1:]))
        found: dict[Path, InboxFile] = {}
        for folder in sorted(
            p for p in self.processing.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            files = sorted(
                p.relative_to(folder).as_posix()
                for p in folder.rglob("*")
                if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
            )
            if not files:
                claims.release(folder, self.processing)
                continue
            try:  # a claim holds one file; older ones held several: the first, then the rest
                found[folder] = describe_claimed(folder.name, folder / files[0], files[0])
            except FileNotFoundError:  # placed meanwhile by the run that has it
                continue
        return found


def describe_claimed(claim_id: str, path: Path, relative_path: str) -> InboxFile:
    """The claimed file as the flow takes it, with its content hash."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return InboxFile(
        f"{claim_id}/{relative_path}",
        str(path),
        relative_path,
        digest.hexdigest(),
        path.stat().st_size,
    )


def encodable(relative_path: str) -> bool:
    """Whether a name can be stored and sent on: its bytes are UTF-8 (a Latin-1 name from an
    old SMB client decodes to lone surrogates, which neither JSON nor DuckDB accept)."""
    try:
        relative_path.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def safe_name(relative_path: str) -> str:
    """The name with each byte that is not UTF-8 written as %XX ('r%E9sum%E9.png')."""
    return "".join(
        f"%{ord(c) - 0xDC00:02X}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in relative_path
    )


def _bad_name(relative_path: str) -> str:
    raw = os.fsencode(relative_path)
    return (
        f"the file name is not valid UTF-8 (its bytes: {raw.hex(' ')}); it was saved here as "
        f"{Path(safe_name(relative_path)).name!r}: rename it (in UTF-8) and drop it again"
    )


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
        if (
            len(fields) > 2
            and (resolved == fields[1] or resolved.startswith(fields[1].rstrip("/") + "/"))
            and len(fields[1]) > len(best)
        ):
            best, fstype = fields[1], fields[2]
    return fstype
