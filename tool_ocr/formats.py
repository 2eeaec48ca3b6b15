"""Query results as `tool-ocr sql` prints them: a table, one record per block (vertical), CSV or
JSON.

CSV and JSON are for machines and keep values exact: numbers as Python writes them back
(shortest round-trip form), times in ISO 8601 with their offset, lists and structs as JSON
(inside a CSV cell too), NULL as an empty CSV cell or JSON null. The document key `doc_id` is
text, so no spreadsheet or JavaScript reader turns it into a rounded number.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table
from rich.text import Text

Rows = Sequence[Sequence[Any]]


def show(
    columns: Sequence[str], rows: Rows, layout: str, console: Console, echo: Callable[..., Any]
) -> None:
    """Print rows as `layout` says: csv or json through `echo` (raw, unwrapped), vertical, or
    auto: a table when it fits the console's width, else vertical."""
    if layout in ("csv", "json"):
        echo((to_csv if layout == "csv" else to_json)(columns, rows), nl=False)
    elif layout == "vertical" or table_width(columns, rows) > console.width:
        console.print(to_vertical(columns, rows), markup=False, highlight=False, end="")
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*(Text(cell(value)) for value in row))
        console.print(table)


def plain(value: Any) -> Any:
    """A JSON-ready equivalent of one DuckDB value, losing nothing."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN or Infinity
    if isinstance(value, Decimal):  # exact: a number when a float prints it back the same
        return float(value) if Decimal(repr(float(value))) == value else str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"P{value.days}DT{value.seconds + value.microseconds / 1e6:g}S"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def cell(value: Any) -> str:
    """One value as text: NULL empty, lists and structs as JSON, the rest as `plain` says."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(columns: Sequence[str], rows: Rows) -> str:
    """RFC 4180 CSV with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def to_json(columns: Sequence[str], rows: Rows) -> str:
    """A JSON array with one object per row, one row a line."""
    if not rows:
        return "[]\n"
    body = ",\n".join(
        json.dumps(
            {name: plain(v) for name, v in zip(columns, row, strict=True)},
            ensure_ascii=False,
            allow_nan=False,
        )
        for row in rows
    )
    return f"[\n{body}\n]\n"


def table_width(columns: Sequence[str], rows: Rows) -> int:
    """Characters a boxed table needs to show every value on its widest line unwrapped."""
    widths = [len(name) for name in columns]
    for row in rows:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], *(len(part) for part in cell(value).splitlines() or [""]))
    return sum(widths) + 3 * len(columns) + 1


def to_vertical(columns: Sequence[str], rows: Rows) -> str:
    """One block per row, a `column | value` line per column; lines of a value aligned."""
    if not rows:
        return "(no rows)\n"
    width = max(len(name) for name in columns)
    blocks = []
    for number, row in enumerate(rows, 1):
        lines = [f"-[ row {number} ]" + "-" * max(0, width - 5)]
        for name, value in zip(columns, row, strict=True):
            first, *more = cell(value).splitlines() or [""]
            lines.append(f"{name.ljust(width)} | {first}")
            lines += [f"{'':{width}} | {part}" for part in more]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"
