"""Searchable PDF: the page look (original PDF page or scan image) plus an invisible text layer.

Each OCR page's text layer (tasks.text_layer) is one overlay page, stamped onto its target page
with PyMuPDF. Original image streams are never decoded or re-encoded: a PDF keeps its own, an
image file's JPEG or G4 data goes in as stored (tasks.pdf_images).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pymupdf

from core.settings import Settings
from core.values import Outputs, Page, Source
from tasks.export import replace_atomically
from tasks.files import open_pdf, pdf_errors
from tasks.pdf_images import add_image_page
from tasks.render import usable_text
from tasks.text_layer import overlay, write_into
from tasks.tracking import step

log = logging.getLogger(__name__)


@step("pdf", "searchable pdf {source.name}", retries=3, retry_delay_seconds=5)
def searchable_pdf(source: Source, pages: list[Page], settings: Settings) -> Path:
    """The searchable PDF of `source`, in its output folder."""
    return write_searchable_pdf(source, pages, Outputs.for_source(settings.output, source).pdf)


def write_searchable_pdf(source: Source, pages: Sequence[Page], out: Path) -> Path:
    """Write `out`: the document's pages with an invisible text layer on every OCR page."""
    ocr = [p for p in pages if p.method == "ocr" and p.lines]
    with _base_document(source, pages) as doc, pdf_errors(source.name):
        _stamp(source, doc, ocr)
        with replace_atomically(out) as tmp:
            doc.save(
                tmp,
                garbage=3,
                deflate=True,
                deflate_images=False,
                deflate_fonts=True,
                use_objstms=1,  # small objects packed in compressed streams
            )
    log.debug("%s: searchable PDF with %d text layers written to %s", source.name, len(ocr), out)
    return out


@contextmanager
def _base_document(source: Source, pages: Sequence[Page]) -> Iterator[pymupdf.Document]:
    """The original PDF, or a new one with one page per page image."""
    if source.kind == "pdf":
        with open_pdf(source.path) as doc:
            for page in pages:  # a page read upright after turning it is shown upright
                if page.rotation:
                    target = doc[page.number - 1]
                    target.set_rotation((target.rotation - page.rotation) % 360)
            yield doc
        return
    with pymupdf.open() as doc, pdf_errors(source.name):
        for page in pages:
            add_image_page(doc, source, page)
        yield doc


def _without_existing_text(target: pymupdf.Page, page: Page) -> Page:
    """`page` minus the OCR lines the target already carries as readable text (a stamp, a
    footer), so extraction does not return them twice. Garbage text does not count."""
    scale = page.width / target.rect.width
    existing = [
        pymupdf.Rect(w[:4]) * target.rotation_matrix * scale
        for w in target.get_text("words")
        if usable_text(w[4], 1)
    ]
    if not existing:
        return page
    return dataclasses.replace(
        page,
        lines=tuple(
            line for line in page.lines if _covered(pymupdf.Rect(line.box), existing) < 0.5
        ),
    )


def _covered(box: pymupdf.Rect, others: list[pymupdf.Rect]) -> float:
    """Share of `box`'s area that `others` cover (overlaps among them counted once each)."""
    area = box.get_area()
    return sum((box & other).get_area() for other in others) / area if area else 1.0


def _stamp(source: Source, doc: pymupdf.Document, pages: Sequence[Page]) -> None:
    """Put each OCR page's text layer on its target: into the pages made here from an image
    file, over a PDF's own pages (rotation neutralised while placing)."""
    for page in pages:
        if not 1 <= page.number <= doc.page_count:
            raise ValueError(f"page {page.number} is not in the document ({doc.page_count})")
    targets = [doc[page.number - 1] for page in pages]
    if source.kind != "pdf":
        write_into(targets, pages)
        return
    texts = [_without_existing_text(t, p) for t, p in zip(targets, pages, strict=True)]
    with overlay(targets, texts) as sheets:
        for i, target in enumerate(targets):
            rotation = target.rotation
            target.set_rotation(0)
            target.show_pdf_page(target.rect, sheets, i, keep_proportion=False, overlay=True)
            target.set_rotation(rotation)
