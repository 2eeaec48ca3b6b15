"""`tool-ocr`: the command line. Errors are mapped to exit codes here, in one place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tool_ocr import PACKAGES
from tool_ocr.errors import ToolOcrError
from tool_ocr.settings import Settings

app = typer.Typer(help="Hot-folder OCR: scans in; searchable PDF, Excel, JSON, text and DuckDB "
                       "rows out.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
out = Console()


def load_settings() -> Settings:
    """Settings from the environment, with a readable message instead of a traceback."""
    try:
        settings = Settings.load()
    except ToolOcrError as exc:
        console.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from exc
    settings.ensure_folders()
    prepare_prefect_env(settings)
    return settings


def prepare_prefect_env(settings: Settings) -> None:
    """Prefect defaults for this project; anything already set in the environment wins."""
    defaults = {
        "PREFECT_HOME": str(settings.home.resolve() / "prefect"),
        "PREFECT_LOGGING_EXTRA_LOGGERS": ",".join(PACKAGES),
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",  # the progress bar speaks
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def expand(paths: list[Path]) -> list[Path]:
    """Files named, plus the files inside folders named (hidden ones skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            files.append(path)
    return files


@app.command()
def process(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to OCR.")],
    force: Annotated[bool, typer.Option(help="Process again even if already done.")] = False,
) -> None:
    """OCR files now, without a running server; the files stay where they are."""
    settings = load_settings()
    from flows.ocr_document import ocr_document  # imports Prefect after its env is set
    from tasks.store import Store

    files = expand(paths)
    if not files:
        console.print(f"nothing to process in {', '.join(map(str, paths))}: drop scans into "
                      f"{settings.inbox} or name files")
        return
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("OCR", total=len(files))
        for file in files:
            progress.update(bar, description=f"OCR {file.name}")
            state = ocr_document(path=str(file.resolve()), force=force, return_state=True)
            results.append((file, state.result(raise_on_failure=False)))
            progress.advance(bar)
    Store.from_settings(settings).publish_snapshot(force=True)
    report(results, settings)
    failures = [r for _, r in results if isinstance(r, BaseException)]
    if failures:
        raise typer.Exit(failures[0].exit_code if isinstance(failures[0], ToolOcrError) else 1)


def report(results: list[tuple[Path, Any]], settings: Settings) -> None:
    """One line per file: what happened and where its outputs are."""
    table = Table("file", "status", "pages", "outputs / reason")
    for file, result in results:
        if isinstance(result, BaseException):
            table.add_row(file.name, "[red]failed", "", f"{type(result).__name__}: {result}")
        elif result["status"] == "skipped":
            table.add_row(file.name, "skipped", "", "already processed (use --force)")
        else:
            table.add_row(file.name, "[green]done", str(result["pages"]),
                          str(Path(result["outputs"]["pdf"]).parent))
    out.print(table)
    out.print(f"DuckDB snapshot for analysts: {settings.snapshot}")


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A read-only SQL query.")]) -> None:
    """Query the analysts' read-only DuckDB snapshot and print a table."""
    settings = load_settings()
    from tasks.store import query_snapshot

    try:
        columns, rows = query_snapshot(settings.snapshot, query)
    except ToolOcrError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(exc.exit_code) from exc
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)

