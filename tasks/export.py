"""Excel, JSON and plain-text exports of one document's OCR result, each written atomically."""

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

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.errors import TransientError
from core.settings import Settings
from core.values import EngineInfo, Line, Outputs, Page, Source
from tasks.ocr import used_engine
from tasks.tracking import step

log = logging.getLogger(__name__)

_WRAPPED = {"text"}  # columns shown wrapped, at a capped width
_NUMBER_FORMATS = {
    "confidence": "0.000",
    "mean_confidence": "0.000",
    "seconds": "0.00",
    **dict.fromkeys(("x0", "y0", "x1", "y1", "width_pt", "height_pt"), "0.0"),
}
_MAX_WIDTH, _MIN_WIDTH = 60, 8
_MAX_CELL = 32_767  # Excel's limit on characters in a cell


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
    created: datetime | None = None,
) -> None:
    """Write the Excel workbook, the JSON document and the plain text of one document."""
    pages = sorted(pages, key=lambda p: p.number)
    stamp = (created or datetime.now(UTC)).isoformat(timespec="seconds")
    write_xlsx(source, pages, engine, xlsx, low_confidence=low_confidence, created=stamp)
    write_json(source, pages, engine, json_path, low_confidence=low_confidence, created=stamp)
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
    """Pages' text separated by form feeds, lines by newlines."""
    with replace_atomically(path) as tmp:
        tmp.write_text("\f".join(page.text for page in pages) + "\n", encoding="utf-8")


def write_json(
    source: Source,
    pages: Sequence[Page],
    engine: EngineInfo,
    path: Path,
    *,
    low_confidence: float,
    created: str,
) -> None:
    """The full structure as UTF-8 JSON, keys in a fixed order."""
    data = {
        "document": {
            "name": source.name,
            "sha256": source.sha256,
            "kind": source.kind,
            "size": source.size,
            "pages": len(pages),
            "created": created,
            "low_confidence_below": low_confidence,
        },
        "engine": {"name": engine.name, "version": engine.version, "models": engine.models},
        "pages": [_page_json(page, low_confidence) for page in pages],
    }
    with replace_atomically(path) as tmp:
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _page_json(page: Page, low_confidence: float) -> dict[str, Any]:
    return {
        "number": page.number,
        "method": page.method,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "seconds": page.seconds,
        "mean_confidence": page.mean_confidence,
        "text": page.text,
        "lines": [_line_json(line, low_confidence) for line in page.lines],
    }


def _line_json(line: Line, low_confidence: float) -> dict[str, Any]:
    return {
        "text": line.text,
        "confidence": line.confidence,
        "low_confidence": line.confidence < low_confidence,
        "box": list(line.box),
        "words": [
            {"text": w.text, "confidence": w.confidence, "box": list(w.box)} for w in line.words
        ],
    }


def write_xlsx(
    source: Source,
    pages: Sequence[Page],
    engine: EngineInfo,
    path: Path,
    *,
    low_confidence: float,
    created: str,
) -> None:
    """Sheets `document`, `pages` and `lines`, each with a frozen, filtered header row."""
    sheets = {
        "document": _document_frame(source, pages, engine, created),
        "pages": _pages_frame(pages),
        "lines": _lines_frame(pages, low_confidence),
    }
    with replace_atomically(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
            _format(writer.sheets[name])


def _document_frame(
    source: Source, pages: Sequence[Page], engine: EngineInfo, created: str
) -> pd.DataFrame:
    confidences = [line.confidence for page in pages for line in page.lines]
    mean = sum(confidences) / len(confidences) if confidences else None
    return pd.DataFrame(
        [
            {
                "name": _cell(source.name),
                "sha256": source.sha256,
                "kind": source.kind,
                "pages": len(pages),
                "lines": len(confidences),
                "mean_confidence": mean,
                "engine": engine.name,
                "version": engine.version,
                "created": created,
            }
        ]
    )


def _pages_frame(pages: Sequence[Page]) -> pd.DataFrame:
    columns = [
        "page",
        "method",
        "width_pt",
        "height_pt",
        "dpi",
        "lines",
        "mean_confidence",
        "seconds",
        "text",
    ]
    rows = [
        (
            p.number,
            p.method,
            p.width,
            p.height,
            p.dpi,
            len(p.lines),
            p.mean_confidence,
            p.seconds,
            _cell(p.text),
        )
        for p in pages
    ]
    return pd.DataFrame(rows, columns=columns)


def _lines_frame(pages: Sequence[Page], low_confidence: float) -> pd.DataFrame:
    columns = ["page", "line", "text", "confidence", "low_confidence", "x0", "y0", "x1", "y1"]
    rows = [
        (
            p.number,
            i,
            _cell(line.text),
            line.confidence,
            line.confidence < low_confidence,
            *line.box,
        )
        for p in pages
        for i, line in enumerate(p.lines, start=1)
    ]
    return pd.DataFrame(rows, columns=columns)


def _cell(text: str) -> str:
    """Text Excel accepts: no control characters, at most 32,767 characters."""
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _format(ws: Worksheet) -> None:
    """Freeze and filter the header; size columns to content; keep strings as text."""
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    for col in ws.iter_cols():
        header = str(col[0].value)
        longest = max(len(str(c.value)) if c.value is not None else 0 for c in col)
        ws.column_dimensions[get_column_letter(col[0].column)].width = min(
            max(longest + 2, _MIN_WIDTH), _MAX_WIDTH
        )
        for cell in col[1:]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # OCR text such as "=1+1" is text, never a formula
            if header in _WRAPPED:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif header in _NUMBER_FORMATS:
                cell.number_format = _NUMBER_FORMATS[header]
