"""`tool-ocr`: the command line. Errors are mapped to exit codes here, in one place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import ToolOcrError
from core.logs import PACKAGES, show_logs, to_terminal
from core.settings import Settings

app = typer.Typer(
    help="Hot-folder OCR: scans in; searchable PDF, Excel, JSON, text and DuckDB rows out.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)
out = Console(soft_wrap=True)  # one line a fact: greppable, never wrapped


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


def use_service(settings: Settings, load_prefect: bool = True) -> str:
    """The Prefect API of the service: PREFECT_API_URL, else the local server `up` starts.
    Without `load_prefect` (the watcher, which speaks to the API without Prefect's SDK), our
    lines reach the terminal through a handler of our own, in Prefect's format."""
    url = os.environ.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{settings.server_port}/api")
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "INFO"  # services log to the terminal
    if not load_prefect:
        to_terminal()
        return url
    import prefect.main  # noqa: F401  (sets up logging: our packages get its handlers)

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
    from watch import health

    if settings.results_spool is None and _watcher_alive(health.read(settings)):
        # the running service owns the live database: results go through its spool
        os.environ["TOOL_OCR_RESULTS_SPOOL"] = str(settings.spool)
        settings = Settings.load()
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


def _watcher_alive(beat: dict[str, Any] | None) -> bool:
    from tool_ocr.status import beat_alive

    return beat is not None and beat_alive(beat)


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
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    csv: Annotated[bool, typer.Option("--csv", help="CSV with a header row, to stdout.")] = False,
    json: Annotated[
        bool, typer.Option("--json", help="A JSON array of row objects, to stdout.")
    ] = False,
    vertical: Annotated[
        bool, typer.Option("--vertical", "-x", help="One record per block, column | value.")
    ] = False,
) -> None:
    """Run a read-only query on the analysts' DuckDB snapshot.

    Prints a table; rows too wide for the terminal come one record per block.
    --vertical: always one record per block, a `column | value` line each.
    --csv, --json: to stdout for other programs, every value exact (ISO 8601
    times, lists and structs as JSON, the document key doc_id as text).
    Tables and views: docs/data.md; each column: SELECT * FROM duckdb_columns().
    """
    settings = load_settings()
    chosen = [name for name, on in (("csv", csv), ("json", json), ("vertical", vertical)) if on]
    if len(chosen) > 1:
        raise typer.BadParameter("choose one of --csv, --json and --vertical")
    from store.snapshot import query_snapshot
    from tool_ocr.formats import show

    with reported():
        columns, rows = query_snapshot(settings.snapshot, query)
    show(columns, rows, chosen[0] if chosen else "auto", out, typer.echo)


@app.command()
def up() -> None:
    """Run the hot-folder service: Prefect server (if none answers), workers, watcher."""
    settings = load_settings()
    use_service(settings)  # the API (given, or the local server up starts) before Prefect loads
    from tool_ocr import up as service

    with reported():
        service.run(settings, out.print)


@app.command()
def watch() -> None:
    """Watch the inbox: claim ready files, create a run for each, place it when it ends."""
    settings = load_settings()
    use_service(settings, load_prefect=False)
    import signal

    from watch.service import Watcher

    watcher = Watcher(settings)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    with reported(), suppress(KeyboardInterrupt):
        watcher.run()


@app.command()
def worker(
    deploy: Annotated[
        bool, typer.Option(help="Create the work pool and the deployments first.")
    ] = True,
) -> None:
    """Run the work pool's flow runs in this process, the OCR model loaded once (one at a time)."""
    settings = load_settings()
    use_service(settings)
    from deployments.serve import register
    from deployments.worker import serve

    with reported():
        if deploy:
            register(settings)
        serve(settings)


@app.command()
def status() -> None:
    """Health: server and UI, deployments, prune, watcher, files in flight and per folder,
    last success and last errors; exits 1 when something is wrong."""
    settings = load_settings()
    use_service(settings)
    from tool_ocr.status import collect

    health = collect(settings)
    mark = {True: "[green]yes", False: "[red]no"}
    out.print(
        f"Prefect server {health['api_url']}: reachable {mark[health['server']]}; "
        f"UI {health['ui_url']}"
    )
    for d in health["deployments"]:
        schedule = f", schedule {', '.join(d['schedules'])}" if d["schedules"] else ""
        out.print(
            f"  deployment {d['name']} (pool {d['work_pool']}): "
            f"{'[yellow]paused' if d['paused'] else 'active'}{schedule}"
        )
    prune = health["prune"]
    if prune:
        out.print(f"  prune-expired: last {prune['last'] or 'never'}, next {prune['next'] or '-'}")
    out.print(
        f"Watcher alive {mark[health['watcher']['alive']]}: {health['watcher']['detail']}; "
        f"{health['workers']} worker(s) alive"
    )
    for doc in health["in_flight"]:
        out.print(
            f"  reading {doc['name']}: page {doc['pages_done']} of {doc['pages_total']} "
            f"({doc['at']})"
        )
    out.print("Files: " + ", ".join(f"{k} {v}" for k, v in health["folders"].items()))
    last = health["last_success"]
    out.print(f"Last success: {last[0]} at {last[1]}" if last else "Last success: none yet")
    for path, error_type, message, when in health["errors"]:
        out.print(f"  [red]failed[/] {path} ({error_type}) {when or ''}: {message}")
    review = health["needs_review"]
    if review["count"]:
        out.print(f"Needs review: {review['count']} document(s); latest:")
    for path, reasons, when in review["latest"]:
        out.print(f"  [yellow]review[/] {escape(path)} ({when}): {escape(reasons)}")
    for problem in health["problems"]:
        out.print(f"[red]problem:[/] {problem}")
    if health["problems"]:
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
