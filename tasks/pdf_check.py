"""PDFs checked for what they really are, not for what they claim to be.

MuPDF opens almost anything: it rebuilds a damaged file's cross-reference table and lays out a
page whose object is missing as a blank Letter page. So a PDF cut short, or one whose page
objects are garbage, would be "read" as blank pages and reported done. Two checks refuse them
as corrupt: at ingest, the page tree must lead to real page objects whose content streams
exist; at render, a page that claims text or images (fonts or images in its resources) yet
renders blank is corrupt when MuPDF repaired the file or complained while drawing it. A page
with nothing on it is a blank page, processed (and flagged for review downstream).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pymupdf

from core.errors import CorruptFileError

log = logging.getLogger(__name__)


def check_structure(doc: pymupdf.Document, name: str) -> None:
    """Refuse a PDF whose repair found no pages, or whose page tree leads to anything but
    page objects with their content streams."""
    if doc.is_repaired:
        log.info("%s: damaged PDF, MuPDF rebuilt its structure", name)
        catalog = doc.pdf_catalog()
        if catalog <= 0 or doc.xref_get_key(catalog, "Pages")[0] == "null":
            raise CorruptFileError(f"{name}: damaged beyond repair: no page tree could be found")
    for index in range(doc.page_count):
        problem = _page_problem(doc, index)
        if problem:
            repaired = " (after MuPDF repaired the file)" if doc.is_repaired else ""
            raise CorruptFileError(f"{name}: page {index + 1} {problem}{repaired}")


def _page_problem(doc: pymupdf.Document, index: int) -> str | None:
    """What is wrong with page `index`'s object, or None."""
    try:
        xref = doc.page_xref(index)
        if doc.xref_get_key(xref, "Type") != ("name", "/Page"):
            return f"is not a page object (object {xref}: {_excerpt(doc, xref)})"
        missing = [c for c in doc.load_page(index).get_contents() if not doc.xref_is_stream(c)]
    except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase) as exc:
        return f"cannot be loaded: {exc}"
    return f"has missing content streams (objects {missing})" if missing else None


def _excerpt(doc: pymupdf.Document, xref: int) -> str:
    text = " ".join(doc.xref_object(xref, compressed=True).split())
    return text if len(text) <= 40 else text[:39] + "…"


def check_rendered(
    page: pymupdf.Page, pix: pymupdf.Pixmap, number: int, *, repaired: bool, warnings: str
) -> None:
    """Refuse a page that claims text or images but rendered blank, when the file was repaired
    or MuPDF warned while drawing it (`warnings`)."""
    if not (repaired or warnings.strip()) or not _unicolor(pix):
        return
    claims = [
        what for what, found in (("images", page.get_images()), ("text", page.get_fonts())) if found
    ]
    if claims:
        why = "MuPDF repaired the file" if repaired else f"MuPDF: {_first_line(warnings)}"
        name = Path(page.parent.name).name
        raise CorruptFileError(
            f"{name}: page {number} claims {' and '.join(claims)} but renders blank ({why})"
        )


def _unicolor(pix: pymupdf.Pixmap) -> bool:
    """Every pixel alike (PyMuPDF's own `is_unicolor` reads samples one by one in Python: a
    second for an A4 page)."""
    samples = np.frombuffer(pix.samples_mv, np.uint8).reshape(-1, pix.n)
    return bool((samples == samples[0]).all())


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:120]
