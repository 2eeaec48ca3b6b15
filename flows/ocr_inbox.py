"""The hot-folder flow: files the watcher claimed, each OCR'd and put where it belongs.

One run takes a batch of files so that a burst pays the process start and the model load once;
each file is its own `ocr-document` subflow run (named after the file) and then placed:
processed/, duplicates/ or failed/ with its reason.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from core.errors import FilesFailedError
from core.settings import Settings
from core.values import InboxFile
from engine import get_engine
from flows.ocr_document import ocr_document
from store.folders import mark_claim, release_claim
from tasks.ocr import engine_config
from tasks.place import place_file, run_attempts
from tasks.record import publish_results

log = logging.getLogger(__name__)


def run_name() -> str:
    """'inbox scan.pdf', or 'inbox scan.pdf +7' for a batch."""
    files = flow_run.parameters["files"]
    first = files[0]["relative_path"] if isinstance(files[0], dict) else files[0].relative_path
    return f"inbox {Path(first).name}" + (f" +{len(files) - 1}" if len(files) > 1 else "")


@flow(name="ocr-inbox", flow_run_name=run_name)
def ocr_inbox(files: list[InboxFile]) -> list[dict[str, Any]]:
    """OCR and place each claimed file; the run fails when any file failed (all are placed)."""
    settings = Settings.load()
    warm_up(settings)
    claim = mark_claim(files, settings, str(flow_run.id))
    placed = [process(item, settings) for item in files]
    release_claim(claim, settings)
    publish_results(settings, force=True)
    failed = [
        f"{p['relative_path']} ({p.get('error_type', 'not placed')})"
        for p in placed
        if p["status"] in ("failed", "unplaced")
    ]
    if failed:  # red in the UI; every file is placed (or left claimed for the watcher)
        raise FilesFailedError(
            f"{len(failed)} of {len(files)} file(s) failed: " + ", ".join(failed[:10])
        )
    return placed


def warm_up(settings: Settings) -> None:
    """Load the OCR model in the background while the first file is ingested and rendered."""

    def load() -> None:
        try:
            get_engine(engine_config(settings))
        except Exception as exc:  # the OCR task meets (and reports) the same error
            log.debug("engine warm-up failed: %s", exc)

    threading.Thread(target=load, name="engine-warm-up", daemon=True).start()


def process(item: InboxFile, settings: Settings) -> dict[str, Any]:
    """One file: its own OCR subflow run, then its placement (never raises)."""
    state = ocr_document(path=item.path, relative_path=item.relative_path, return_state=True)
    outcome = state.result(raise_on_failure=False)
    attempts = (
        run_attempts(item.sha256, state.state_details.flow_run_id, settings)
        if isinstance(outcome, BaseException)
        else None
    )
    placed = place_file(item, outcome, settings, attempts, return_state=True)
    result = placed.result(raise_on_failure=False)
    if isinstance(result, BaseException):  # left in processing/: the watcher retries the batch
        log.error("%s: could not be placed: %s", item.relative_path, result)
        return {"relative_path": item.relative_path, "status": "unplaced"}
    return {"relative_path": item.relative_path, **result}
