"""Every task attempt lands in DuckDB, where the attempt runs; retries only for transient errors.

Prefect's state hooks fire on a task's final state only, so `tracked` wraps the task body: it
reads the attempt number from the run context, applies injected faults (TOOL_OCR_FAULTS), and
records one `task_attempts` row per attempt, failed or completed.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run, task_run
from prefect.utilities.annotations import opaque

from core.errors import InjectedFaultError, describe, is_transient
from core.settings import STEPS, Settings
from store.db import Attempt, Store

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def step(
    name: str, run_name: str, *, retries: int = 2, retry_delay_seconds: float = 2
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A pipeline task: Prefect task `name`, every attempt recorded, transient errors retried."""
    if name not in STEPS:
        raise ValueError(f"unknown step {name!r}; add it to core.settings.STEPS")

    def decorate(fn: Callable[P, R]) -> Task[P, R]:
        return Step(
            tracked(name)(fn),
            name=name,
            task_run_name=run_name,
            retries=retries,
            retry_delay_seconds=retry_delay_seconds,
            retry_condition_fn=retry_transient,
            cache_policy=NO_CACHE,
        )

    return decorate


class Step(Task[P, R]):
    """A task whose arguments Prefect resolves but does not walk into (`opaque`).

    Prefect visits every object inside a task's arguments twice, to resolve futures and to find
    the task that returned each one; a document's pages hold thousands of words, which cost
    about 9 ms per A4 page per task. Opaque, the arguments are still linked to the task that
    returned them, so the run's graph in the UI is unchanged.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        opaque_args: Any = [opaque(a) for a in args]
        opaque_kwargs: Any = {k: opaque(v) for k, v in kwargs.items()}
        return super().__call__(*opaque_args, **opaque_kwargs)


def tracked(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record each attempt of the wrapped task body as `name`.

    The body must take `settings: Settings`; `source` (a Source) or `sha256`, and `page` (a
    Page) are picked up when present to key the attempt to its document and page.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs).arguments
            settings: Settings = bound["settings"]
            attempt = task_run.run_count or 1
            started = datetime.now(UTC)
            try:
                inject_fault(name, attempt, settings.fault_plan)
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _record(settings, name, attempt, started, bound, exc)
                raise
            _record(settings, name, attempt, started, bound, None)
            return result

        return wrapper

    return decorate


def inject_fault(name: str, attempt: int, plan: dict[str, int]) -> None:
    """Fail transiently while `attempt` is within the planned number of faults for `name`."""
    if attempt <= plan.get(name, 0):
        raise InjectedFaultError(
            f"injected fault in {name}, attempt {attempt} of {plan[name]} planned failures"
        )


def _record(
    settings: Settings,
    name: str,
    attempt: int,
    started: datetime,
    bound: dict[str, Any],
    exc: BaseException | None,
) -> None:
    sha256 = getattr(bound.get("source"), "sha256", None) or bound.get("sha256")
    error_type, message = describe(exc) if exc is not None else (None, None)
    row = Attempt(
        task_name=name,
        attempt=attempt,
        started_at=started,
        ended_at=datetime.now(UTC),
        state="FAILED" if exc is not None else "COMPLETED",
        sha256=sha256,
        page_no=getattr(bound.get("page"), "number", None),
        flow_run_id=flow_run.id,
        task_run_id=task_run.id,
        error_type=error_type,
        error_message=message,
    )
    try:
        Store.from_settings(settings).record_attempt(row)
    except Exception as err:  # never let bookkeeping mask the task's own outcome
        log.warning("%s: could not record attempt %s of %s: %s", row.sha256, attempt, name, err)


def retry_transient(task: object, run: object, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only errors marked transient."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # the stored exception is re-raised here
            exc = raised
    return is_transient(exc)
