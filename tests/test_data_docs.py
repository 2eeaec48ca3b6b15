"""docs/data.md's queries run: every ```sql block, against a snapshot built by real Store writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from analyst_snapshot import build

from store.db import Store
from store.snapshot import query_snapshot

DOC = Path(__file__).resolve().parents[1] / "docs" / "data.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text("utf-8"), flags=re.DOTALL)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("analysts")
    store = Store(folder / "state" / "pipeline.duckdb", folder / "tool_ocr.duckdb")
    build(store, folder)
    return store.snapshot


def test_the_data_docs_have_queries() -> None:
    assert len(QUERIES) >= 10


@pytest.mark.parametrize("query", QUERIES, ids=[q.split("\n")[0][:60] for q in QUERIES])
def test_every_documented_query_runs_and_finds_something(snapshot: Path, query: str) -> None:
    columns, rows = query_snapshot(snapshot, query)
    assert columns and rows, f"no rows from:\n{query}"
