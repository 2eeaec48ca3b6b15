"""The hot-folder flow: one file the watcher claimed, read by the recipe; how it ended is left
beside it, and the watcher places it (processed/, failed/ with its reason, duplicates/).

One run per file, named after it, so operators find each file in the Prefect UI with its
retries, logs and artifacts. A Retry of a run whose file was already placed does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from core.errors import describe
from core.logs import show_logs
from core.settings import Settings
from core.values import InboxFile
from flows.ocr_document import read_document
from store import claims

log = logging.getLogger(__name__)
show_logs()  # our INFO lines reach the UI


def run_name() -> str:
    """'ocr invoices/scan.pdf': the file as it was dropped."""
    file = flow_run.parameters["file"]
    relative = file["relative_path"] if isinstance(file, dict) else file.relative_path
    return f"ocr {relative}"


@flow(name="ocr-inbox", flow_run_name=run_name, persist_result=False)
def ocr_inbox(file: InboxFile) -> dict[str, Any]:
    """OCR one claimed file; its outcome is left in its claim folder for the watcher."""
    settings = Settings.load()
    claim = claims.folder(settings.processing, file)
    if not Path(file.path).exists():  # placed already: a Retry of a finished run
        log.info("%s: already placed by an earlier run; nothing to do", file.relative_path)
        return {"status": "nothing to do", "relative_path": file.relative_path}
    try:
        with claims.reading(claim, str(flow_run.id)):
            summary = read_document(Path(file.path), file.sha256, settings, file.relative_path)
    except Exception as exc:
        error_type, message = describe(exc)
        claims.leave_outcome(
            claim,
            {
                "status": "failed",
                "error_type": error_type,
                "error_message": message,
                "flow_run_id": str(flow_run.id),
            },
        )
        raise
    claims.leave_outcome(claim, {"status": "done", "flow_run_id": str(flow_run.id)})
    return {**summary, "relative_path": file.relative_path}
