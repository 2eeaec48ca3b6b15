"""Ingest: real files made here are accepted, counted, or refused with the right typed error."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfgen import canvas

from core.errors import (
    CorruptFileError,
    EmptyDocumentError,
    EncryptedPdfError,
    MissingFileError,
    TooLargeError,
    UnsupportedFileError,
)
from tasks.files import describe_content, detect_kind, inspect_file

LIMITS = {"max_bytes": 512 << 20, "max_pages": 2000, "max_pixels": 100_000_000}


def inspect(path: Path, **overrides: int):
    return inspect_file(path, **{**LIMITS, **overrides})


def scan_png(path: Path, size: tuple[int, int] = (850, 1100)) -> Path:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text(
        (60, 60), "Scanned page", fill=0, font=ImageFont.load_default(size=40)
    )
    image.save(path, format="PNG", dpi=(100, 100))
    return path


def text_pdf(path: Path, pages: int = 1) -> Path:
    pdf = canvas.Canvas(str(path))
    for number in range(pages):
        pdf.drawString(72, 720, f"Page {number + 1} of a born-digital document")
        pdf.showPage()
    pdf.save()
    return path


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR declares width x height but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )
    return path


def test_png_is_hashed_and_counted(tmp_path):
    path = scan_png(tmp_path / "scan.png")
    source = inspect(path)
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (source.kind, source.page_count, source.size) == ("png", 1, path.stat().st_size)
    assert source.name == "scan.png" and source.path == path


def test_kind_comes_from_content_not_name(tmp_path):
    png_named_pdf = scan_png(tmp_path / "really-a-png.pdf")
    pdf_named_jpg = text_pdf(tmp_path / "really-a-pdf.jpg", pages=3)
    assert inspect(png_named_pdf).kind == "png"
    assert (inspect(pdf_named_jpg).kind, inspect(pdf_named_jpg).page_count) == ("pdf", 3)


def test_multi_page_tiff_counts_frames(tmp_path):
    frames = [Image.new("1", (200, 300), 1) for _ in range(3)]
    path = tmp_path / "fax.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="group4")
    assert inspect(path).page_count == 3
    with pytest.raises(TooLargeError, match="3 pages"):
        inspect(path, max_pages=2)


@pytest.mark.parametrize(
    "fmt,kind",
    [("JPEG", "jpeg"), ("BMP", "bmp"), ("GIF", "gif"), ("WEBP", "webp"), ("JPEG2000", "jp2")],
)
def test_other_image_kinds(tmp_path, fmt, kind):
    path = tmp_path / "image.bin"
    Image.new("RGB", (64, 48), "white").save(path, format=fmt)
    assert inspect(path).kind == kind


def test_text_named_png_is_unsupported(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("These are meeting notes, not an image.\n")
    with pytest.raises(UnsupportedFileError, match="plain text"):
        inspect(path)


def test_office_document_is_unsupported(tmp_path):
    path = tmp_path / "letter.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(UnsupportedFileError, match="ZIP archive"):
        inspect(path)


def test_garbage_named_pdf_is_corrupt(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(range(7, 256)) * 40)
    with pytest.raises(CorruptFileError, match="named like a pdf"):
        inspect(path)


def test_pdf_header_without_body_is_corrupt(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(2000) + b"\n%%EOF\n")
    with pytest.raises(CorruptFileError):
        inspect(path)


def scan_pdf(path: Path, pages: int = 3) -> Path:
    """A scanner-style A4 PDF written by MuPDF: catalog and page tree first, then the pages."""
    doc = pymupdf.open()
    image = scan_png(path.with_suffix(".png"))
    for _ in range(pages):
        doc.new_page(width=595, height=842).insert_image(
            pymupdf.Rect(0, 0, 595, 842), filename=image
        )
    doc.save(path, garbage=3, deflate=True)
    return path


def test_pdf_cut_to_500_bytes_is_corrupt_not_blank_pages(tmp_path):
    data = scan_pdf(tmp_path / "full.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[:500])  # the page tree survives, the pages do not
    with pytest.raises(CorruptFileError, match=r"cut.pdf: page \d.*after MuPDF repaired"):
        inspect(tmp_path / "cut.pdf")


def test_pdf_cut_before_its_page_tree_is_corrupt_not_empty(tmp_path):
    pdf = canvas.Canvas(str(tmp_path / "full.pdf"))  # reportlab: the page tree comes last
    for _ in range(3):
        pdf.drawImage(str(scan_png(tmp_path / "scan.png")), 0, 0, 595, 842)
        pdf.showPage()
    pdf.save()
    (tmp_path / "cut.pdf").write_bytes((tmp_path / "full.pdf").read_bytes()[:500])
    with pytest.raises(CorruptFileError, match="no page tree"):
        inspect(tmp_path / "cut.pdf")


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(lambda body: bytes((b * 7 + 13) % 256 for b in body), id="noise"),
        pytest.param(lambda body: b"1" * len(body), id="a-number"),
        pytest.param(lambda body: b"<</Foo 1>>".ljust(len(body)), id="another-dictionary"),
    ],
)
def test_pdf_whose_page_objects_are_garbage_is_corrupt(tmp_path, garbage):
    data = scan_pdf(tmp_path / "full.pdf").read_bytes()
    page = re.compile(rb"(\d+ 0 obj\n)(<</Type/Page/.*?>>)(\nendobj)", re.S)
    damaged = page.sub(lambda m: m[1] + garbage(m[2]) + m[3], data)  # same length: xref holds
    assert damaged != data and len(damaged) == len(data)
    (tmp_path / "garbage.pdf").write_bytes(damaged)
    with pytest.raises(CorruptFileError, match="garbage.pdf: page 1"):
        inspect(tmp_path / "garbage.pdf")


def test_repairable_pdf_with_real_pages_is_accepted(tmp_path, caplog):
    data = scan_pdf(tmp_path / "full.pdf").read_bytes()
    (tmp_path / "damaged.pdf").write_bytes(data.replace(b"startxref", b"startxXXX"))
    with caplog.at_level(logging.INFO, logger="tasks.pdf_check"):
        assert inspect(tmp_path / "damaged.pdf").page_count == 3
    assert any("MuPDF rebuilt" in r.getMessage() for r in caplog.records)


def test_truncated_png_fails_fast(tmp_path):
    data = scan_png(tmp_path / "full.png", size=(2000, 2000)).read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    started = time.monotonic()
    with pytest.raises(CorruptFileError, match="cut.png"):
        inspect(path)
    assert time.monotonic() - started < 2


def test_password_protected_pdf_is_refused(tmp_path):
    doc = pymupdf.open(text_pdf(tmp_path / "plain.pdf"))
    doc.save(
        tmp_path / "locked.pdf",
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="secret",
        owner_pw="owner",
    )
    with pytest.raises(EncryptedPdfError, match="password"):
        inspect(tmp_path / "locked.pdf")


def test_pdf_with_empty_user_password_is_accepted(tmp_path):
    doc = pymupdf.open(text_pdf(tmp_path / "plain.pdf"))
    doc.save(
        tmp_path / "restricted.pdf",
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="",
        owner_pw="owner",
        permissions=0,
    )
    assert inspect(tmp_path / "restricted.pdf").page_count == 1


def test_pdf_without_pages_is_empty(tmp_path):
    path = tmp_path / "nopages.pdf"
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )
    with pytest.raises(EmptyDocumentError):
        inspect(path)


def test_dynamic_xfa_form_is_unsupported(tmp_path):
    doc = pymupdf.open(text_pdf(tmp_path / "plain.pdf"))
    doc.xref_set_key(doc.pdf_catalog(), "NeedsRendering", "true")
    doc.save(tmp_path / "xfa.pdf")
    with pytest.raises(UnsupportedFileError, match="XFA"):
        inspect(tmp_path / "xfa.pdf")


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.pdf").touch()
    with pytest.raises(EmptyDocumentError, match="empty"):
        inspect(tmp_path / "empty.pdf")


def test_too_many_bytes(tmp_path):
    path = scan_png(tmp_path / "scan.png")
    with pytest.raises(TooLargeError, match="bytes"):
        inspect(path, max_bytes=path.stat().st_size - 1)


def test_symlink_is_refused(tmp_path):
    target = scan_png(tmp_path / "scan.png")
    (tmp_path / "link.png").symlink_to(target)
    with pytest.raises(UnsupportedFileError, match="symbolic link"):
        inspect(tmp_path / "link.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.pdf")
    with pytest.raises(UnsupportedFileError, match="FIFO"):
        inspect(tmp_path / "pipe.pdf")


def test_directory_is_refused(tmp_path):
    (tmp_path / "folder.pdf").mkdir()
    with pytest.raises(UnsupportedFileError, match="directory"):
        inspect(tmp_path / "folder.pdf")


def test_missing_file_is_rejected_not_retried(tmp_path):
    with pytest.raises(MissingFileError, match="no such file"):
        inspect(tmp_path / "gone.pdf")


def test_huge_declared_png_is_refused_from_its_header(tmp_path):
    path = png_header(tmp_path / "bomb.png", 40_000, 40_000)
    with pytest.raises(TooLargeError):
        inspect(path)


@pytest.mark.parametrize("size", [(1200, 1000), (3000, 3000)])  # above 1x and above 2x limit
def test_image_above_max_pixels_is_refused(tmp_path, size):
    path = png_header(tmp_path / "big.png", *size)
    with pytest.raises(TooLargeError):
        inspect(path, max_pixels=1_000_000)
    assert inspect(path, max_pixels=10_000_000).kind == "png"


def test_tiff_frame_above_max_pixels_is_refused(tmp_path):
    small, big = Image.new("L", (100, 100), 255), Image.new("L", (1500, 1000), 255)
    path = tmp_path / "mixed.tif"
    small.save(path, save_all=True, append_images=[big], compression="tiff_lzw")
    with pytest.raises(TooLargeError, match="page 2"):
        inspect(path, max_pixels=1_000_000)


@pytest.mark.parametrize(
    "head,expected",
    [
        (b"<!DOCTYPE html><html><body>hi", "HTML"),
        (b"<?xml version='1.0'?><svg/>", "XML"),
        (b"\x00\x00\x00\x18ftypheic", "HEIC"),
        (b"\x00\x01\x02\x03\xfe\xff", "unrecognised binary"),
        ("Résumé in UTF-8".encode(), "plain text"),
        (b"BMW service report, 2024\n", "plain text"),
    ],
)
def test_describe_content(head, expected):
    assert detect_kind(head) is None
    assert expected in describe_content(head)
