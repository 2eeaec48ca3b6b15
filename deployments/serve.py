"""The deployments on the work pool, registered from code: what `tool-ocr up` and `tool-ocr
worker --deploy` do on one machine. `prefect.yaml` says the same for `prefect deploy --all`.

`ocr-inbox` (one run per file, created by the watcher), `prune-expired` (on its cron schedule)
and `ocr-document` (ad hoc) live on the work pool `settings.work_pool`, a process pool: Prefect's
own workers can run them too (`prefect worker start --pool tool-ocr`), each run in a fresh
process, and `tool-ocr worker` runs them in a process that keeps the OCR model loaded.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Coroutine
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from core.settings import Settings

log = logging.getLogger(__name__)
TAGS = ["tool-ocr"]


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The three deployments, as `prefect.yaml` declares them."""
    from flows.ocr_document import ocr_document
    from flows.ocr_inbox import ocr_inbox
    from flows.prune_expired import prune_expired

    return [
        _built(d)
        for d in (
            ocr_inbox.to_deployment(
                name="ocr-inbox",
                tags=[*TAGS, "hot-folder"],
                description="OCR one file claimed from the hot folder; created by the watcher.",
            ),
            # paused=False: a schedule paused by an earlier stop is resumed.
            prune_expired.to_deployment(
                name="prune-expired",
                tags=[*TAGS, "maintenance"],
                cron=settings.prune_cron,
                paused=False,
                description="Delete processed files, outputs and duplicates past their "
                "retention; failed/ keeps its own, longer one.",
            ),
            ocr_document.to_deployment(
                name="ocr-document",
                tags=TAGS,
                description="OCR one file where it lies (no hot folder); for ad hoc runs.",
            ),
        )
    ]


def _built(
    deployment: RunnerDeployment | Coroutine[Any, Any, RunnerDeployment],
) -> RunnerDeployment:
    """`to_deployment` is sync outside an event loop; say so to the type checker."""
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def register(settings: Settings) -> list[UUID]:
    """Create the work pool if missing and (re)apply the deployments to it."""
    ensure_work_pool(settings.work_pool)
    ids = [_applied(d.apply(work_pool_name=settings.work_pool)) for d in deployments(settings)]
    log.info(
        "deployments ocr-inbox, prune-expired, ocr-document on work pool %s", settings.work_pool
    )
    return ids


def _applied(result: UUID | Coroutine[Any, Any, UUID]) -> UUID:
    assert isinstance(result, UUID)
    return result


def ensure_work_pool(name: str) -> None:
    """A process work pool named `name` with Prefect's default process job template."""
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return
        except ObjectNotFound:
            pass
        template = ProcessWorker.get_default_base_job_template()
        pool = WorkPoolCreate(name=name, type="process", base_job_template=template)
        with contextlib.suppress(ObjectAlreadyExists):  # another process created it meanwhile
            client.create_work_pool(pool)
