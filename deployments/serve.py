"""Serve the deployments on this machine: what `prefect.yaml` cannot say (the runner's limit).

`prefect.yaml` is the truth for `prefect deploy --all` on a work pool; this module serves the
same two deployments from one process, for a single machine (`tool-ocr serve`, `tool-ocr up`).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from prefect import serve
from prefect.deployments.runner import RunnerDeployment

from core.settings import Settings

log = logging.getLogger(__name__)
TAGS = ["tool-ocr"]


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """`ocr-inbox` (triggered by the watcher) and `prune-expired` (hourly by default)."""
    from flows.ocr_inbox import ocr_inbox
    from flows.prune_expired import prune_expired

    return [
        _built(d)
        for d in (
            ocr_inbox.to_deployment(
                name="ocr-inbox",
                tags=[*TAGS, "hot-folder"],
                paused=False,
                description="OCR files claimed from the hot folder; triggered by the watcher.",
            ),
            # paused=False: stopping a runner pauses what it served; starting again resumes it.
            prune_expired.to_deployment(
                name="prune-expired",
                tags=[*TAGS, "maintenance"],
                cron=settings.prune_cron,
                paused=False,
                description="Delete processed files, outputs and duplicates past "
                "their retention; failed/ keeps its own, longer one.",
            ),
        )
    ]


def _built(
    deployment: RunnerDeployment | Coroutine[Any, Any, RunnerDeployment],
) -> RunnerDeployment:
    """`to_deployment` is sync outside an event loop; say so to the type checker."""
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def serve_all(settings: Settings) -> None:
    """Serve both deployments until interrupted, at most `settings.runs` runs at once."""
    log.info("serving ocr-inbox and prune-expired, %d run(s) at once", settings.runs)
    serve(*deployments(settings), limit=settings.runs, print_starting_message=False)
