"""`tool-ocr up` run as a user runs it, in a home and on a port of its own, watched while it works:
its watcher's and workers' memory (peak RSS) and how fast the Prefect API answers `/health`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from store.snapshot import query_snapshot


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(condition: Callable[[], object], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def _any_file(folder: Path) -> bool:
    """Any file below `folder` (os.walk, unlike rglob, shrugs at folders vanishing meanwhile)."""
    return any(files for _, _, files in os.walk(folder))


class Service:
    """A `tool-ocr up` child process and its monitors."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TOOL_"))}
        self.env.update(
            {"TOOL_OCR_HOME": str(home), "TOOL_OCR_SERVER_PORT": str(self.port)}, **(env or {})
        )
        self.peak_rss: dict[str, int] = {}  # "watch", "worker" -> bytes
        self.slowest_health = 0.0
        self.health_failures = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "up.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tool_ocr.cli", "up"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers = self.home / "state" / "workers"
        if not wait(
            lambda: (
                (self.home / "state" / "watcher.json").exists()
                and len(list(workers.glob("*.json"))) >= 1
            ),
            240,
            0.5,
        ):
            raise SystemExit(f"the service did not come up; see {self.home / 'up.log'}")
        threading.Thread(target=self._watch, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(180)

    def idle(self) -> bool:
        """Nothing waiting, claimed or in flight."""
        return not _any_file(self.home / "processing") and not _any_file(self.inbox)

    def files(self) -> list[tuple[Any, ...]]:
        """(relative path, status, location) of every files row, from the analysts' snapshot."""
        return self.sql("SELECT relative_path, status, location FROM files")

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            return query_snapshot(self.home / "tool_ocr.duckdb", query, params)[1]
        except Exception:  # not published yet, or being swapped in
            return []

    def _watch(self) -> None:
        """Peak RSS of the watcher and the workers; /health's slowest answer; every second."""
        while not self._stop.wait(1.0):
            try:
                children = json.loads((self.home / "state" / "up.json").read_text())
            except (OSError, ValueError):
                continue
            for name, pid in children.items():
                kind = "worker" if name.startswith("worker") else name
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                self.peak_rss[kind] = max(self.peak_rss.get(kind, 0), rss)
            started = time.perf_counter()
            try:
                ok = httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=5).is_success
            except httpx.HTTPError:
                ok = False
            self.health_failures += not ok
            self.slowest_health = max(self.slowest_health, time.perf_counter() - started)
