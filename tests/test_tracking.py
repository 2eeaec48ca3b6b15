"""Attempt tracking: fault injection, the retry condition, and task_attempts rows in real DuckDB."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from core.errors import (
    CorruptFileError,
    DatabaseBusyError,
    InjectedFaultError,
    RejectedError,
    TransientError,
)
from core.settings import Settings
from core.values import Page, Source
from store.db import Store
from tasks.tracking import inject_fault, retry_transient, tracked

SHA = hashlib.sha256(b"scan.pdf").hexdigest()
SOURCE = Source(Path("scan.pdf"), "scan.pdf", SHA, "pdf", 1234, 2)


def rows(settings: Settings, sha256: str = SHA) -> list[dict]:
    return Store.from_settings(settings).attempts(sha256)


@tracked("ocr")
def read_page(source: Source, page: Page, settings: Settings) -> int:
    if page.number == 13:
        raise CorruptFileError("page 13 is unreadable")
    return page.number * 10


@tracked("fingerprint")
def by_hash(sha256: str, settings: Settings) -> str:
    return sha256[:4]


@pytest.mark.parametrize("planned", [0, 1, 3])
def test_inject_fault_fails_exactly_the_planned_attempts(planned: int) -> None:
    plan = {"ocr": planned, "pdf": 9}
    for attempt in range(1, planned + 1):
        with pytest.raises(InjectedFaultError, match=f"attempt {attempt} of {planned}") as info:
            inject_fault("ocr", attempt, plan)
        assert info.value.transient
    inject_fault("ocr", planned + 1, plan)  # the next attempt goes through
    inject_fault("render", 1, plan)  # tasks not in the plan never fail


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (InjectedFaultError("injected"), True),
        (DatabaseBusyError("locked"), True),
        (TransientError("io hiccup"), True),
        (TimeoutError("slow disk"), True),
        (CorruptFileError("broken"), False),
        (RejectedError("never"), False),
        (ValueError("bug"), False),
    ],
)
def test_retry_transient_retries_only_transient_errors(error: Exception, retry: bool) -> None:
    assert retry_transient(None, None, Failed(data=error)) is retry


def test_tracked_records_a_completed_attempt_with_document_and_page(settings: Settings) -> None:
    assert read_page(SOURCE, Page(2, 595, 842, "ocr"), settings=settings) == 20

    [row] = rows(settings)
    assert (row["task_name"], row["attempt"], row["state"]) == ("ocr", 1, "COMPLETED")
    assert (row["sha256"], row["page_no"]) == (SHA, 2)
    assert row["error_type"] is None and row["error_message"] is None
    assert row["ended_at"] >= row["started_at"] and row["duration_s"] >= 0


def test_tracked_records_a_failure_and_reraises_it(settings: Settings) -> None:
    with pytest.raises(CorruptFileError, match="page 13"):
        read_page(SOURCE, Page(13, 595, 842, "ocr"), settings)

    [row] = rows(settings)
    assert (row["state"], row["page_no"]) == ("FAILED", 13)
    assert (row["error_type"], row["error_message"]) == ("corrupt_file", "page 13 is unreadable")


def test_tracked_keys_rows_by_sha256_argument_and_keeps_each_call(settings: Settings) -> None:
    assert by_hash(SHA, settings) == SHA[:4]
    assert by_hash(sha256=SHA, settings=settings) == SHA[:4]

    recorded = rows(settings)
    assert [(r["task_name"], r["state"], r["page_no"]) for r in recorded] == [
        ("fingerprint", "COMPLETED", None),
        ("fingerprint", "COMPLETED", None),
    ]


def test_tracked_applies_the_fault_plan_before_the_body(settings: Settings) -> None:
    faulty = Settings(faults="ocr:1")  # outside Prefect every call is attempt 1

    with pytest.raises(InjectedFaultError):
        read_page(SOURCE, Page(13, 595, 842, "ocr"), faulty)

    [row] = rows(faulty)
    assert (row["state"], row["error_type"]) == ("FAILED", "injected_fault")
    assert "injected fault in ocr, attempt 1 of 1" in row["error_message"]


# Prefect level: the retry loop, run counts and the flow's outcome.

calls: list[int] = []


@task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_transient, cache_policy=NO_CACHE)
@tracked("export")
def flaky(sha256: str, settings: Settings, reject: bool = False) -> str:
    calls.append(1)
    if reject:
        raise CorruptFileError("not a scan")
    return "done"


@flow
def run_flaky(sha256: str, settings: Settings, reject: bool = False) -> str:
    return flaky(sha256, settings, reject)


@pytest.mark.usefixtures("prefect_server")
def test_injected_faults_are_retried_and_every_attempt_is_recorded(settings: Settings) -> None:
    calls.clear()
    faulty = Settings(faults="export:2")

    assert run_flaky(SHA, faulty) == "done"

    recorded = rows(faulty)
    assert [(r["attempt"], r["state"]) for r in recorded] == [
        (1, "FAILED"),
        (2, "FAILED"),
        (3, "COMPLETED"),
    ]
    assert [r["error_type"] for r in recorded] == ["injected_fault", "injected_fault", None]
    assert len({r["task_run_id"] for r in recorded}) == 1 and recorded[0]["task_run_id"]
    assert len(calls) == 1  # the body ran only once the faults were used up


@pytest.mark.usefixtures("prefect_server")
def test_a_rejected_file_is_not_retried_and_fails_the_flow(settings: Settings) -> None:
    calls.clear()

    with pytest.raises(CorruptFileError, match="not a scan"):
        run_flaky(SHA, settings, reject=True)

    [row] = rows(settings)
    assert (row["attempt"], row["state"], row["error_type"]) == (1, "FAILED", "corrupt_file")
    assert len(calls) == 1
