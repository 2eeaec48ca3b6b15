"""`tool-ocr`: the command line. Errors are mapped to exit codes here, in one place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import ToolOcrError
from core.logs import PACKAGES, show_logs
from core.settings import Settings

app = typer.Typer(
    help="Hot-folder OCR: scans in; searchable PDF, Excel, JSON, text and DuckDB rows out.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
out = Console()


@contextmanager
def reported() -> Iterator[None]:
    """A ToolOcrError becomes its message and its exit code, not a traceback."""
    try:
        yield
    except ToolOcrError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(exc.exit_code) from exc


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


def use_service(settings: Settings) -> str:
    """The Prefect API of the service: PREFECT_API_URL, else the local server `up` starts."""
    url = os.environ.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{settings.server_port}/api")
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")  # file to run start: ~2 s, not ~9
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"  # services log to the terminal
    import prefect  # noqa: F401  (sets up logging: our packages get its handlers)

    show_logs()
    return url


def expand(paths: list[Path]) -> list[Path]:
    """Files named, plus the files inside folders named (hidden ones skipped)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
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
    from store.db import Store

    files = expand(paths)
    if not files:
        console.print(
            f"nothing to process in {', '.join(map(str, paths))}: drop scans into "
            f"{settings.inbox} or name files"
        )
        return
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
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
            table.add_row(
                file.name,
                "[green]done",
                str(result["pages"]),
                str(Path(result["outputs"]["pdf"]).parent),
            )
    out.print(table)
    out.print(f"DuckDB snapshot for analysts: {settings.snapshot}")


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A read-only SQL query.")]) -> None:
    """Query the analysts' read-only DuckDB snapshot and print a table."""
    settings = load_settings()
    from store.snapshot import query_snapshot

    with reported():
        columns, rows = query_snapshot(settings.snapshot, query)
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


@app.command()
def up() -> None:
    """Run the hot-folder service: local Prefect server (if none answers), deployments, watcher."""
    settings = load_settings()
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"
    from tool_ocr import up as service

    with reported():
        service.run(settings, out.print)


@app.command()
def watch() -> None:
    """Watch the inbox and submit ready files to the ocr-inbox deployment (needs `serve`)."""
    settings = load_settings()
    use_service(settings)
    import signal

    from watch.service import Watcher

    watcher = Watcher(settings)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    with reported(), suppress(KeyboardInterrupt):
        watcher.run()


@app.command()
def serve() -> None:
    """Serve the ocr-inbox and prune-expired deployments on this machine (a Prefect runner)."""
    settings = load_settings()
    use_service(settings)
    from deployments.serve import serve_all

    serve_all(settings)


@app.command()
def status() -> None:
    """Health: server, deployments and schedules, watcher, files per folder, last errors."""
    settings = load_settings()
    use_service(settings)
    from tool_ocr.status import collect

    health = collect(settings)
    mark = {True: "[green]yes", False: "[red]no"}
    out.print(f"Prefect server {health['api_url']}: reachable {mark[health['server']]}")
    for d in health["deployments"]:
        out.print(
            f"  deployment {d['name']}: {'[yellow]paused' if d['paused'] else 'active'}"
            f"{', schedule ' + ', '.join(d['schedules']) if d['schedules'] else ''}"
        )
    out.print(f"Watcher alive {mark[health['watcher']['alive']]}: {health['watcher']['detail']}")
    out.print("Files: " + ", ".join(f"{k} {v}" for k, v in health["folders"].items()))
    for path, error_type, message, when in health["errors"]:
        out.print(f"  [red]failed[/] {path} ({error_type}) {when or ''}: {message}")
    if not (health["server"] and health["watcher"]["alive"]):
        raise typer.Exit(1)


@app.command()
def retry(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Quarantined files (in the failed folder); none: all of them."),
    ] = None,
) -> None:
    """Move quarantined files back into the inbox (their .error.json is removed)."""
    settings = load_settings()
    from store.folders import ERROR_SUFFIX, move

    files = (
        [p.resolve() for p in paths]
        if paths
        else sorted(
            p
            for p in settings.failed.rglob("*")
            if p.is_file() and not p.name.endswith(ERROR_SUFFIX)
        )
    )
    for file in files:
        if not file.is_relative_to(settings.failed) or not file.exists():
            console.print(f"[red]{file}: not a file in {settings.failed}")
            raise typer.Exit(2)
        target = move(file, settings.inbox, file.relative_to(settings.failed).as_posix())
        file.with_name(file.name + ERROR_SUFFIX).unlink(missing_ok=True)
        out.print(f"{file.relative_to(settings.failed)} -> {target}")
    if not files:
        out.print(f"nothing to retry in {settings.failed}")


if __name__ == "__main__":
    app()
