"""Submit claimed batches to Prefect and follow them until their run ends.

Each claim folder becomes one `ocr-inbox` flow run. Its idempotency key is derived from the
content hashes of its files and the claim id, so a watcher that restarts and submits the same
claim again gets the existing run back, never a second one. A run that ended while files are
still in its claim folder (a crash, a cancelled run) is submitted again, a bounded number of
times (a run cancelled because its runner stopped does not count); the Prefect server being
away only delays submission.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import Crashed

from core.values import InboxFile
from store.folders import claim_process_died

log = logging.getLogger(__name__)

DEPLOYMENT = "ocr-inbox/ocr-inbox"
MAX_CRASHES = 3  # runs of a claim that crashed or failed before its files are quarantined


@dataclass
class Batch:
    """A claim folder on its way through Prefect."""

    claim_id: str
    files: list[InboxFile]
    run_id: UUID | None = None
    submissions: int = 0
    crashes: int = 0

    def idempotency_key(self, submission: int) -> str:
        """Same files, same claim, same submission number: the same run."""
        content = "\n".join(sorted(f"{f.sha256} {f.file_id}" for f in self.files))
        digest = hashlib.sha256(content.encode()).hexdigest()[:32]
        return f"ocr-inbox-{digest}-{submission}"

    def run_name(self) -> str:
        first = Path(self.files[0].relative_path).name
        return f"inbox {first}" + (f" +{len(self.files) - 1}" if len(self.files) > 1 else "")

    def tags(self) -> list[str]:
        paths = [f"path:{f.relative_path}"[:100] for f in self.files[:5]]
        return ["tool-ocr", "hot-folder", *paths]


class Submitter:
    """Creates runs for batches and reports which batches ended (and how)."""

    def __init__(self, deployment: str = DEPLOYMENT) -> None:
        self.deployment = deployment
        self.batches: dict[str, Batch] = {}
        self._deployment_id: UUID | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, claim_id: str, files: list[InboxFile]) -> None:
        """Take a claimed batch; its run is created now or on a later `poll`."""
        self.batches[claim_id] = Batch(claim_id, files)

    def poll(self, processing: Path) -> list[Batch]:
        """Create missing runs, follow the others; return batches that ran out of submissions."""
        given_up: list[Batch] = []
        with get_client(sync_client=True) as client:
            for batch in [b for b in self.batches.values() if b.run_id is None]:
                self._create(client, batch)
            for batch, cancelled in self._ended(client, processing):
                left = [f for f in batch.files if Path(f.path).exists()]
                batch.crashes += bool(left) and not cancelled
                if not left or batch.crashes >= MAX_CRASHES:
                    del self.batches[batch.claim_id]
                    if left:
                        given_up.append(
                            Batch(
                                batch.claim_id, left, batch.run_id, batch.submissions, batch.crashes
                            )
                        )
                    continue
                log.warning(
                    "%s: run %s ended (%s) with %d file(s) unplaced; submitting again",
                    batch.claim_id,
                    batch.run_id,
                    "cancelled" if cancelled else "crashed",
                    len(left),
                )
                batch.files, batch.run_id = left, None
                self._create(client, batch)
        return given_up

    def _create(self, client: Any, batch: Batch) -> None:
        try:
            if self._deployment_id is None:
                self._deployment_id = client.read_deployment_by_name(self.deployment).id
            run = client.create_flow_run_from_deployment(
                self._deployment_id,
                parameters={"files": [asdict(f) for f in batch.files]},
                name=batch.run_name(),
                tags=batch.tags(),
                idempotency_key=batch.idempotency_key(batch.submissions + 1),
            )
        except Exception:
            self._deployment_id = None  # the deployment may have been re-created
            raise
        batch.submissions += 1
        batch.run_id = run.id
        log.info(
            "%s: run %s (%s) for %d file(s)", batch.claim_id, run.name, run.id, len(batch.files)
        )

    def _ended(self, client: Any, processing: Path) -> list[tuple[Batch, bool]]:
        """Batches whose run ended, and whether it was cancelled.

        Besides final states: a run deleted from Prefect, and a run whose process on this
        machine died without reporting (killed, out of memory) is marked Crashed here.
        """
        by_run = {b.run_id: b for b in self.batches.values() if b.run_id is not None}
        if not by_run:
            return []
        runs = {
            run.id: run
            for run in client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(by_run))),
                limit=len(by_run),
            )
        }
        ended = []
        for run_id, batch in by_run.items():
            run = runs.get(run_id)
            if run is not None and run.state is not None and run.state.is_final():
                ended.append((batch, run.state.is_cancelled()))
            elif run is None or claim_process_died(processing / batch.claim_id, run_id):
                if run is not None:
                    client.set_flow_run_state(
                        run_id, Crashed(message="its process died without reporting"), force=True
                    )
                ended.append((batch, False))
        return ended
