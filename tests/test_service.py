"""The service, end to end and under attack: `tool-ocr up` as a user starts it (its own Prefect
server on a free port, workers with the real engine, the watcher) in a fresh home.

Every kind of bad input ends in its place while the good files go on; a file that kills its
worker, or hangs, is pinned and quarantined; killing a worker, `up`'s whole process group or
`up` alone loses nothing and doubles nothing; the Prefect UI works on a non-default port and
finds a file's run by its name; a Retry of a finished run changes nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pymupdf
import pytest
from PIL import Image

from conftest import text_page
from store.snapshot import query_snapshot

FAULTS = "crash:crashes-*.png,hang:hangs-*.png"
FILE_TIMEOUT = 25.0
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.3)


@dataclass
class Service:
    """A `tool-ocr up` of its own home and port."""

    home: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        log = (self.home / "up.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tool_ocr.cli", "up"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, 180, "the service to come up")

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"up exited with {self.process.returncode}: {self.tail()}")
        beat = self.home / "state" / "watcher.json"
        workers = list((self.home / "state" / "workers").glob("*.json"))
        return beat.exists() and len(workers) >= 2

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(120)

    def children(self) -> dict[str, int]:
        return json.loads((self.home / "state" / "up.json").read_text())

    def tail(self) -> str:
        return (self.home / "up.log").read_text(errors="replace")[-3000:]

    def drop(self, name: str, data: bytes) -> Path:
        path = self.inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def files(self) -> dict[str, tuple[Any, ...]]:
        """relative path -> (status, error_type, location, error_message, count of rows)."""
        snapshot = self.home / "tool_ocr.duckdb"
        if not snapshot.exists():
            return {}
        _, rows = query_snapshot(
            snapshot,
            "SELECT relative_path, any_value(status), any_value(error_type), "
            "any_value(location), any_value(error_message), count(*) FROM files GROUP BY 1",
        )
        return {row[0]: row[1:] for row in rows}

    def settled(self, names: set[str]) -> bool:
        """Every one of `names` placed, as the analysts' snapshot says, and nothing waiting."""
        waiting = [
            p
            for p in (self.home / "processing").rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        files = self.files()
        placed = all(files.get(name, ("processing",))[0] != "processing" for name in names)
        return placed and not waiting and not any(self.inbox.rglob("*.*"))

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        return query_snapshot(self.home / "tool_ocr.duckdb", query)[1]

    def runs(self, **filters: Any) -> list[Any]:
        response = httpx.post(f"{self.api}/flow_runs/filter", json={"limit": 200, **filters})
        response.raise_for_status()
        return list(response.json())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("up") / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TOOL_OCR_"))}
    env.update(
        {
            "TOOL_OCR_HOME": str(home),
            "TOOL_OCR_SERVER_PORT": str(free_port()),  # not 4200: the UI must follow the port
            "TOOL_OCR_WORKERS": "2",
            "TOOL_OCR_WATCH_QUIET_SECONDS": "1",
            "TOOL_OCR_WATCH_RESCAN_SECONDS": "5",
            "TOOL_OCR_FILE_TIMEOUT": str(FILE_TIMEOUT),
            "TOOL_OCR_FAULTS": FAULTS,
        }
    )
    up = Service(home, int(env["TOOL_OCR_SERVER_PORT"]), env)
    up.start()
    try:
        yield up
    finally:
        up.stop()


def png(*lines: str) -> bytes:
    buffer = io.BytesIO()
    text_page(list(lines), size=36, width=1000).save(buffer, format="PNG", dpi=(200, 200))
    return buffer.getvalue()


def scanned_pdf(pages: int = 2) -> bytes:
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=595, height=842)
        page.insert_image(page.rect, stream=png(f"Scanned page {n + 1} of the contract"))
    return doc.tobytes(garbage=3, deflate=True)


def garbage_pages(data: bytes) -> bytes:
    """The PDF with each page object overwritten by noise of the same length."""
    page = re.compile(rb"(\d+ 0 obj\n)(<</Type/Page/.*?>>)(\nendobj)", re.S)
    return page.sub(lambda m: m[1] + bytes((b * 7 + 13) % 256 for b in m[2]) + m[3], data)


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (1000, 1400), 255).save(buffer, format="PNG", dpi=(150, 150))
    return buffer.getvalue()


def test_every_bad_file_ends_in_its_place_and_the_good_ones_go_on(
    service: Service, tmp_path: Path
) -> None:
    good = {f"good-{n}.png": png(f"Invoice number 77{n}", "Total amount due") for n in range(4)}
    outside = tmp_path / "outside.png"
    outside.write_bytes(png("Linked from elsewhere 5150"))
    old = time.time() - 5 * 86400
    os.utime(outside, (old, old))
    started = time.monotonic()
    service.drop("crashes-1.png", png("This page kills its worker"))
    service.drop("hangs-1.png", png("This page never finishes"))
    for name, data in good.items():
        service.drop(name, data)
    raw = os.path.join(os.fsencode(service.inbox), b"r\xe9sum\xe9.png")  # a Latin-1 name
    with open(raw, "wb") as out:
        out.write(png("Curriculum vitae"))
    full = scanned_pdf()
    service.drop("cut.pdf", full[:500])
    service.drop("garbage.pdf", garbage_pages(full))
    service.drop("blank.png", blank_png())
    os.link(outside, service.inbox / "linked.png")
    names = {
        *good,
        "crashes-1.png",
        "hangs-1.png",
        "r%E9sum%E9.png",
        "cut.pdf",
        "garbage.pdf",
        "blank.png",
        "linked.png",
    }
    wait_for(lambda: service.settled(names), 420, f"{len(names)} files placed")

    files = service.files()
    assert all(files[name][0] == "processed" and files[name][4] == 1 for name in good), files
    assert files["r%E9sum%E9.png"][:2] == ("failed", "unsupported_file")
    assert "not valid UTF-8" in files["r%E9sum%E9.png"][3]
    assert files["cut.pdf"][:2] == ("failed", "corrupt_file")
    assert files["garbage.pdf"][:2] == ("failed", "corrupt_file")
    assert files["crashes-1.png"][:2] == ("failed", "run_crashed")
    assert files["hangs-1.png"][:2] == ("failed", "timeout")
    assert time.monotonic() - started < 420
    crashed = service.sql("SELECT status FROM documents WHERE source_name = 'crashes-1.png'")
    assert crashed == [("failed",)], "its document ends failed, not processing"
    assert files["blank.png"][0] == "processed"
    review = json.loads(next((service.home / "output").glob("blank-*/blank.json")).read_text())
    assert review["document"]["review"]["needed"], "a page with no text is flagged"
    assert files["linked.png"][0] == "processed"
    assert outside.stat().st_mtime == pytest.approx(old, abs=1), "its twin's times untouched"
    for name in ("crashes-1.png", "hangs-1.png", "cut.pdf"):
        report = Path(files[name][2] + ".error.json")
        assert json.loads(report.read_text())["error_type"] == files[name][1]
    status = subprocess.run(
        [sys.executable, "-m", "tool_ocr.cli", "status"],
        env=service.env,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"UI http://127.0.0.1:{service.port}" in status.stdout


def test_a_worker_killed_mid_file_loses_nothing_and_doubles_nothing(service: Service) -> None:
    names = {f"burst-{n:02}.png": png(f"Delivery note 90{n:02}", "Signed") for n in range(10)}
    for name, data in names.items():
        service.drop(name, data)
    busy = service.home / "state" / "workers"

    def reading() -> int | None:
        for record in busy.glob("*.json"):
            body = json.loads(record.read_text())
            if body.get("run") and "burst-" in body["run"]["name"]:
                return int(body["pid"])
        return None

    wait_for(reading, 120, "a worker reading a burst file")
    pid = reading()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: service.settled(set(names)), 300, "the burst placed")
    files = {name: row for name, row in service.files().items() if name in names}
    assert all(files[name][0] == "processed" and files[name][4] == 1 for name in names), files
    assert service.sql("SELECT count(*) - count(DISTINCT sha256) FROM documents") == [(0,)]
    duplicated = service.sql(
        "SELECT count(*) FROM (SELECT doc_id, page_no, line_no FROM lines "
        "GROUP BY ALL HAVING count(*) > 1)"
    )
    assert duplicated == [(0,)]


def test_a_retry_of_a_finished_run_changes_nothing(service: Service) -> None:
    [run] = [r for r in service.runs() if r["name"] == "ocr good-0.png"]
    before = _fingerprint(service)
    response = httpx.post(  # what the UI's Retry does: the finished run is scheduled again
        f"{service.api}/flow_runs/{run['id']}/set_state",
        json={"state": {"type": "SCHEDULED", "name": "AwaitingRetry"}, "force": True},
    )
    response.raise_for_status()

    def finished_again() -> bool:
        state = httpx.get(f"{service.api}/flow_runs/{run['id']}").json()["state"]
        return state["type"] == "COMPLETED" and state["id"] != run["state"]["id"]

    wait_for(finished_again, 120, "the retried run to finish")
    time.sleep(2)  # one more snapshot
    assert _fingerprint(service) == before


def _fingerprint(service: Service) -> tuple[Any, ...]:
    folders = sorted(
        str(p.relative_to(service.home))
        for p in service.home.rglob("*")
        if p.is_file()
        and p.parts[len(service.home.parts)]
        in ("inbox", "processing", "processed", "failed", "duplicates", "output")
    )
    rows = service.sql("SELECT count(*), count(DISTINCT sha256) FROM task_attempts")
    files = service.sql("SELECT file_id, status, location FROM files ORDER BY 1")
    return folders, rows, files


def test_the_ui_on_its_port_finds_a_files_run_by_name(service: Service) -> None:
    settings = httpx.get(f"http://127.0.0.1:{service.port}/ui-settings").json()
    assert settings["api_url"] == service.api
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed (apt-get install chromium)") if os.environ.get(
            "CI"
        ) else pytest.skip("chromium is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{service.port}/runs", wait_until="networkidle")
            page.locator("input[placeholder*='flow run name']:visible").first.fill("good-1")
            page.get_by_text("ocr good-1.png").first.wait_for(timeout=30_000)
            page.get_by_text("ocr good-1.png").first.click()
            page.get_by_text(re.compile("Completed")).first.wait_for(timeout=30_000)
            assert f":{service.port}" in page.url
        finally:
            browser.close()


def _kill_group(service: Service) -> None:
    """SIGKILL of `up`'s whole process group (its children run in sessions of their own)."""
    assert service.process is not None
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait()


def _kill_up_alone(service: Service) -> None:
    assert service.process is not None
    service.process.kill()
    service.process.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is dead


@pytest.mark.parametrize("kill", [_kill_group, _kill_up_alone], ids=["group", "up-alone"])
def test_killing_up_leaves_no_orphan_and_a_restart_lands_every_file_once(
    service: Service, kill: Callable[[Service], None]
) -> None:
    how = kill.__name__[1:]
    names = {f"{how}-{n:02}.png": png(f"Statement {n:02} {how}") for n in range(8)}
    for name, data in names.items():
        service.drop(name, data)
    wait_for(lambda: any((service.home / "processing").iterdir()), 60, "files claimed")
    children = service.children()
    kill(service)
    wait_for(lambda: not any(_alive(pid) for pid in children.values()), 30, "up's children to die")
    service.start()
    wait_for(lambda: service.settled(set(names)), 300, "the files placed after restart")
    files = service.files()
    assert all(files[n][0] == "processed" and files[n][4] == 1 for n in names), files
    stuck = {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}}
    wait_for(lambda: not service.runs(**stuck), 90, "no run left Running")
