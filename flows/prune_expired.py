"""Scheduled clean-up: files past their retention leave processed/, output/, duplicates/, failed/.

The rules (what may go, what never does) live in tasks/prune.py; this is the recipe.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from core.logs import show_logs
from core.settings import Settings
from tasks.prune import expired_files, prune, record_pruned, report
from tasks.record import publish_results

show_logs()  # our INFO lines reach the UI


def run_name() -> str:
    """'prune' or 'prune (dry run)', as operators look for it in the UI."""
    return "prune (dry run)" if flow_run.parameters.get("dry_run") else "prune"


@flow(name="prune-expired", flow_run_name=run_name)
def prune_expired(dry_run: bool = False) -> dict[str, Any]:
    """Remove the expired files (a dry run only lists them); returns files and bytes per folder."""
    settings = Settings.load()
    removed = prune(expired_files(settings), settings, dry_run=dry_run)
    if not dry_run:
        record_pruned(removed, settings)
        publish_results(settings)
    return report(removed, dry_run)
