"""Ingest: accept a file by its content, hash it, count its pages and refuse bad ones early.

Also the one place where Pillow and PyMuPDF are opened: `open_image` and `open_pdf` translate
their exceptions into `core.errors` types, so `tasks.render` uses them too.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymupdf
from PIL import Image
from prefect.runtime import flow_run

from core.errors import (
    CorruptFileError,
    EmptyDocumentError,
    EncryptedPdfError,
    MissingFileError,
    TooLargeError,
    ToolOcrError,
    TransientError,
    UnsupportedFileError,
)
from core.settings import Settings
from core.values import Source
from store.db import Store
from tasks.pdf_check import check_structure
from tasks.tracking import step

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_MULTI_FRAME = {"tiff", "gif", "webp"}
_SUFFIX_KIND = {
    ".pdf": "pdf",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".webp": "webp",
    ".gif": "gif",
    ".jp2": "jp2",
    ".j2k": "jp2",
    ".jpf": "jp2",
    ".jpx": "jp2",
}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),
    (b"MM\x00+", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"),
    (b"\xffO\xffQ", "jp2"),
)
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}  # "BM" alone is too common in text
_FOREIGN = (
    (b"PK\x03\x04", "a ZIP archive (docx, xlsx, odt...)"),
    (b"\xd0\xcf\x11\xe0", "a legacy MS Office document"),
    (b"%!PS", "PostScript"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "gzip data"),
    (b"AT&TFORM", "DjVu"),
    (b"8BPS", "a Photoshop image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x00\x00\x01\x00", "a Windows icon"),
)
_PIL_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    IndexError,
    KeyError,
    ZeroDivisionError,
    struct.error,
)
_PDF_ERRORS = (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase)

# Every input image's declared size is checked against the setting (check_pixels) before any
# pixel is decoded; Pillow's own process-wide bomb limit would fight that setting.
Image.MAX_IMAGE_PIXELS = None
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


@step("fingerprint", "fingerprint {path.name}")
def fingerprint(path: Path, settings: Settings) -> str:
    """SHA-256 of the file's content: the document's identity."""
    return sha256_file(path)


@step("ingest", "ingest {path.name}")
def ingest(path: Path, sha256: str, settings: Settings, relative_path: str | None = None) -> Source:
    """Accept the file (or refuse it with a reason) and mark its document as processing."""
    source = inspect_file(
        path,
        max_bytes=settings.max_file_mb << 20,
        max_pages=settings.max_pages,
        max_pixels=settings.max_pixels,
    )
    if source.sha256 != sha256:
        raise TransientError(f"{path.name}: changed while being processed")
    Store.from_settings(settings).start_document(
        source, flow_run_id=flow_run.id, relative_path=relative_path
    )
    return source


def inspect_file(path: Path, *, max_bytes: int, max_pages: int, max_pixels: int) -> Source:
    """Accept `path` as a Source, or raise a RejectedError (TransientError on I/O trouble)."""
    size, sha256, head = _read(path, max_bytes)
    kind = detect_kind(head)
    if kind is None:
        raise _refusal(path.name, head)
    if kind == "pdf":
        pages = _count_pdf_pages(path, max_pages)
    else:
        pages = _count_frames(path, kind, max_pages, max_pixels)
    log.info("%s: accepted as %s, %d page(s), %d bytes", path.name, kind, pages, size)
    return Source(path=path, name=path.name, sha256=sha256, kind=kind, size=size, page_count=pages)


def detect_kind(head: bytes) -> str | None:
    """The supported kind the first bytes of a file announce, or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    return "pdf" if b"%PDF-" in head[:1024] else None


def describe_content(head: bytes) -> str:
    """A short human guess at what unsupported content is."""
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":
        return f"an ISO media file ({head[8:12].decode('latin-1').strip()}: HEIC, AVIF, MP4...)"
    sample = head[:4096]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        text = sample[: exc.start].decode("utf-8") if exc.start >= len(sample) - 3 else ""
    if not text or "\x00" in text:
        return f"unrecognised binary data (starts with {head[:8].hex(' ')})"
    start = text.lstrip("\ufeff \t\r\n")[:100].lower()
    if start.startswith(("<!doctype html", "<html")):
        return "an HTML document"
    return "an XML document" if start.startswith(("<?xml", "<svg")) else "plain text"


def _refusal(name: str, head: bytes) -> ToolOcrError:
    what = describe_content(head)
    claimed = _SUFFIX_KIND.get(Path(name).suffix.lower())
    if claimed and what.startswith("unrecognised"):
        return CorruptFileError(f"{name}: named like a {claimed} file but is {what}")
    return UnsupportedFileError(f"{name}: not a supported format; it looks like {what}")


def _read(path: Path, max_bytes: int) -> tuple[int, str, bytes]:
    """(size, sha256, first chunk) of a regular, non-empty file no larger than `max_bytes`."""
    fd = _open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise EmptyDocumentError(f"{path.name}: the file is empty (0 bytes)")
        if size > max_bytes:
            raise TooLargeError(f"{path.name}: {size:,} bytes, above the {max_bytes:,} limit")
        sha256, head, seen = _hash(fd, path)
    finally:
        os.close(fd)
    if seen != size:
        raise TransientError(f"{path.name}: changed size while being read ({size} -> {seen})")
    return size, sha256, head


def sha256_file(path: Path) -> str:
    """SHA-256 of a regular file's content (symlinks, FIFOs and devices are refused)."""
    fd = _open_regular(path)
    try:
        return _hash(fd, path)[0]
    finally:
        os.close(fd)


def _hash(fd: int, path: Path) -> tuple[str, bytes, int]:
    """(sha256 hex, first chunk, bytes read) of an open descriptor."""
    digest, head, seen = hashlib.sha256(), b"", 0
    try:
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
            head, seen = head or chunk, seen + len(chunk)
    except OSError as exc:
        raise TransientError(f"{path.name}: could not be read: {exc}") from exc
    return digest.hexdigest(), head, seen


def _open_regular(path: Path) -> int:
    """A read-only descriptor on `path`, refusing symlinks, FIFOs, directories and devices."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if path.is_symlink():
            raise UnsupportedFileError(f"{path.name}: is a symbolic link, not a regular file")
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsupportedFileError(f"{path.name}: is a symbolic link") from exc
        if exc.errno == errno.ENOENT:
            raise MissingFileError(f"{path}: no such file") from exc
        raise TransientError(f"{path.name}: could not be opened: {exc}") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "directory" if stat.S_ISDIR(mode) else "FIFO" if stat.S_ISFIFO(mode) else "special"
        raise UnsupportedFileError(f"{path.name}: is a {what} file, not a regular file")
    return fd


def _count_pdf_pages(path: Path, max_pages: int) -> int:
    with open_pdf(path) as doc:
        pages = doc.page_count
        if pages:  # too many pages: refused before each is loaded
            _check_count(path.name, pages, max_pages)
        check_structure(doc, path.name)  # no pages after a repair: corrupt, not empty
        if doc.xref_get_key(doc.pdf_catalog(), "NeedsRendering")[1] == "true":
            raise UnsupportedFileError(
                f"{path.name}: a dynamic XFA form; its content is not in the PDF pages"
            )
    return _check_count(path.name, pages, max_pages)


def _count_frames(path: Path, kind: str, max_pages: int, max_pixels: int) -> int:
    with open_image(path, max_pixels) as im, pil_errors(path.name):
        frames = int(getattr(im, "n_frames", 1)) if kind in _MULTI_FRAME else 1
        _check_count(path.name, frames, max_pages)
        for index in range(1, frames if kind == "tiff" else 1):
            im.seek(index)
            check_pixels(f"{path.name} page {index + 1}", im.size, max_pixels)
        if kind == "png":
            im.verify()  # chunk structure and CRCs, no decoding: catches truncated files
    return frames


def _check_count(name: str, pages: int, max_pages: int) -> int:
    if pages < 1:
        raise EmptyDocumentError(f"{name}: the document has no pages")
    if pages > max_pages:
        raise TooLargeError(f"{name}: {pages} pages, above the {max_pages} page limit")
    return pages


def check_pixels(what: str, size: tuple[int, int], max_pixels: int) -> None:
    """Refuse a raster of `size` (w, h) above `max_pixels`."""
    if size[0] * size[1] > max_pixels:
        raise TooLargeError(
            f"{what}: {size[0]} x {size[1]} px is above the {max_pixels:,} pixel limit"
        )


@contextmanager
def pil_errors(what: str) -> Iterator[None]:
    """Translate Pillow's exceptions: decode failures are corrupt, OS-level I/O is transient."""
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"{what}: {exc}") from exc
    except _PIL_ERRORS as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise TransientError(f"{what}: I/O error: {exc}") from exc
        raise CorruptFileError(f"{what}: cannot be decoded: {type(exc).__name__}: {exc}") from exc


@contextmanager
def open_image(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """Open an image with Pillow (header only), refusing more than `max_pixels`."""
    with pil_errors(path.name), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        im = Image.open(path)
    for warning in caught:
        log.debug("%s: Pillow: %s", path.name, warning.message)
    with im:
        check_pixels(path.name, im.size, max_pixels)
        yield im


@contextmanager
def pdf_errors(what: str) -> Iterator[None]:
    """Translate PyMuPDF's exceptions and move MuPDF's warnings into the debug log."""
    try:
        yield
    except pymupdf.mupdf.FzErrorLimit as exc:
        raise TooLargeError(f"{what}: {exc}") from exc
    except pymupdf.mupdf.FzErrorSystem as exc:
        raise TransientError(f"{what}: MuPDF system error: {exc}") from exc
    except _PDF_ERRORS as exc:
        raise CorruptFileError(f"{what}: {type(exc).__name__}: {exc}") from exc
    finally:
        if notes := pymupdf.TOOLS.mupdf_warnings():
            log.debug("%s: MuPDF: %s", what, notes.replace("\n", " | "))


@contextmanager
def open_pdf(path: Path) -> Iterator[pymupdf.Document]:
    """Open a PDF with PyMuPDF; an empty user password is accepted, any other is refused."""
    with pdf_errors(path.name):
        doc = pymupdf.open(path, filetype="pdf")
    with doc:
        if doc.needs_pass and not doc.authenticate(""):
            raise EncryptedPdfError(f"{path.name}: the PDF needs a password to open")
        with pdf_errors(path.name):
            yield doc
