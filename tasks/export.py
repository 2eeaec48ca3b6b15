"""Excel, JSON and plain-text exports of one document's OCR result, each written atomically.

The workbook is tasks.workbook's; the plain text keeps a printed row on one line
(tasks.page_text). Both the workbook and the JSON carry the document's review
(core.values.review): whether a person should look at it, and why.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import TransientError
from core.settings import Settings
from core.values import EngineInfo, Line, Outputs, Page, Review, Source, review
from tasks.ocr import used_engine
from tasks.page_text import page_text
from tasks.tracking import step
from tasks.workbook import write_xlsx

log = logging.getLogger(__name__)


@step("export", "export {source.name}")
def export_document(source: Source, pages: list[Page], settings: Settings) -> Outputs:
    """Excel, JSON and text beside the searchable PDF; returns all four output paths."""
    outputs = Outputs.for_source(settings.output, source)
    write_exports(
        source,
        pages,
        used_engine(pages, settings),
        xlsx=outputs.xlsx,
        json_path=outputs.json,
        txt=outputs.txt,
        low_confidence=settings.low_confidence,
        review_share=settings.review_share,
    )
    return outputs


def write_exports(
    source: Source,
    pages: Sequence[Page],
    engine: EngineInfo,
    *,
    xlsx: Path,
    json_path: Path,
    txt: Path,
    low_confidence: float,
    review_share: float,
    created: datetime | None = None,
) -> None:
    """Write the Excel workbook, the JSON document and the plain text of one document."""
    pages = sorted(pages, key=lambda p: p.number)
    created = (created or datetime.now(UTC)).replace(microsecond=0)
    checked = review(pages, low_confidence, review_share)
    with replace_atomically(xlsx) as tmp:
        write_xlsx(
            source,
            pages,
            engine,
            tmp,
            review=checked,
            low_confidence=low_confidence,
            created=created,
        )
    data = json_document(source, pages, engine, checked, low_confidence, review_share, created)
    with replace_atomically(json_path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_txt(pages, txt)
    log.debug("%s: exports written to %s, %s, %s", source.name, xlsx, json_path, txt)


@contextmanager
def replace_atomically(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block succeeds it replaces `path`."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:  # disk full, permissions: the operator can fix it, then retry
        raise TransientError(f"cannot write {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_txt(pages: Sequence[Page], path: Path) -> None:
    """Pages' text separated by form feeds, printed rows by newlines."""
    with replace_atomically(path) as tmp:
        tmp.write_text("\f".join(page_text(page) for page in pages) + "\n", encoding="utf-8")


def json_document(
    source: Source,
    pages: Sequence[Page],
    engine: EngineInfo,
    checked: Review,
    low_confidence: float,
    review_share: float,
    created: datetime,
) -> dict[str, Any]:
    """The full structure as a JSON-ready dict, keys in a fixed order."""
    return {
        "document": {
            "name": source.name,
            "sha256": source.sha256,
            "kind": source.kind,
            "size": source.size,
            "pages": len(pages),
            "created": created.isoformat(timespec="seconds"),
            "low_confidence_below": low_confidence,
            "repaired": any(page.repaired for page in pages),  # a damaged PDF MuPDF rebuilt
            "review": _review_json(checked, review_share),
        },
        "engine": {"name": engine.name, "version": engine.version, "models": engine.models},
        "pages": [_page_json(page, low_confidence) for page in pages],
    }


def _review_json(checked: Review, review_share: float) -> dict[str, Any]:
    return {
        "needed": checked.needed,
        "reasons": list(checked.reasons),
        "words": checked.words,
        "weak_words": checked.weak_words,
        "weak_share_above": review_share,
        "mean_confidence": checked.mean_confidence,
        "weakest": checked.weakest,
    }


def _page_json(page: Page, low_confidence: float) -> dict[str, Any]:
    return {
        "number": page.number,
        "method": page.method,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "seconds": page.seconds,
        "mean_confidence": page.mean_confidence,
        "text": page_text(page),
        "lines": [_line_json(line, low_confidence) for line in page.lines],
    }


def _line_json(line: Line, low_confidence: float) -> dict[str, Any]:
    return {
        "text": line.text,
        "confidence": line.confidence,
        "low_confidence": line.confidence < low_confidence,
        "box": list(line.box),
        "words": [
            {
                "text": w.text,
                "confidence": w.confidence,
                "low_confidence": w.confidence < low_confidence,
                "box": list(w.box),
            }
            for w in line.words
        ],
    }
