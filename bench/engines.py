"""The two engines under test, each in a process of its own, measured the same way.

Ours runs in `bench.worker`, Tesseract in `bench.tesseract` (its C API): each loads its model
once, then reads every page warm; a page's seconds are the wall time of reading it from its
file, timed inside the worker. Both get the same threads (our `TOOL_OCR_OCR_THREADS`, and
OMP_THREAD_LIMIT for Tesseract) and alternate page by page, who goes first changing every page.
Start-up is measured apart, so a per-file view can add it: for ours a new worker process until
its model is loaded (what `tool-ocr process` pays once per call), for Tesseract its CLI on a
blank page (what a pipeline calling `tesseract` per file pays). Peak RSS is each worker's own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from bench.tesseract import library

ROOT = Path(__file__).resolve().parents[1]  # the repository: bench/ and the pipeline's packages
STARTS = 3  # fresh processes timed for each engine's start-up


@dataclass(frozen=True)
class Scan:
    """A page image on disk with its ground truth, as both engines see it."""

    name: str
    family: str
    path: Path
    dpi: float
    truth: str


@dataclass
class EngineRun:
    """What one engine produced on a set of scans, and what it cost."""

    name: str
    version: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    start_seconds: float = 0.0  # a new process until its model is loaded (median)
    peak_rss_mib: float = 0.0
    note: str = ""

    @property
    def ran(self) -> bool:
        return not self.note


class Worker:
    """An engine in a child process (`module` speaks `bench.serve`'s protocol)."""

    def __init__(self, module: str, work: Path, env: dict[str, str] | None = None) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self._log_path = work / f"{module}.log"
        self._log = self._log_path.open("a")
        started = time.perf_counter()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, "PYTHONPATH": path, **(env or {})},
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        hello = self._receive()
        self.start_seconds = time.perf_counter() - started
        name = "tesseract" if module == "bench.tesseract" else "ours"
        self.run = EngineRun(name, _describe(hello["engine"]))

    def read(self, scan: Scan) -> None:
        """Read `scan` into `self.run`."""
        page = self.ask({"read": {"name": scan.name, "path": str(scan.path), "dpi": scan.dpi}})
        self.run.texts[scan.name], self.run.seconds[scan.name] = page["text"], page["seconds"]

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request; progress messages are printed until the answer comes."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        while "progress" in (reply := self._receive()):
            page, rss = reply["progress"]
            print(f"soak: page {page:>5}  RSS {rss:7.0f} MiB", flush=True)
        return reply

    def close(self) -> EngineRun:
        """End the worker; its peak RSS goes into the run."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self.run.peak_rss_mib = self._receive()["peak_rss_mib"]
        self._proc.wait()
        self._log.close()
        return self.run

    def _receive(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            tail = self._log_path.read_text("utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"bench worker died ({self._proc.returncode}):\n{tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply


def start_seconds(module: str, work: Path, env: dict[str, str] | None = None) -> float:
    """Median over STARTS fresh `module` workers of the time until each is ready."""
    times = []
    for _ in range(STARTS):
        worker = Worker(module, work, env)
        times.append(worker.start_seconds)
        worker.close()
    return statistics.median(times)


def run_side_by_side(
    scans: list[Scan], work: Path, threads: int, ours_env: dict[str, str] | None = None
) -> tuple[EngineRun, EngineRun]:
    """Both engines page by page, who goes first alternating: load changes on the machine
    hit both alike. `threads`: Tesseract's OMP_THREAD_LIMIT."""
    # Tesseract's idle OpenMP threads wait passively, as ours do (`runtime.OnnxNet`).
    tess_env = {"OMP_THREAD_LIMIT": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    have_tess = library() is not None
    workers = [Worker("bench.worker", work, ours_env)]
    if have_tess:
        workers.append(Worker("bench.tesseract", work, tess_env))
    for i, scan in enumerate(scans, start=1):
        for worker in workers if i % 2 else workers[::-1]:
            worker.read(scan)
        print(
            f"  {i}/{len(scans)} {scan.name}: "
            + ", ".join(f"{w.run.name} {w.run.seconds[scan.name]:.2f} s" for w in workers),
            flush=True,
        )
    runs = [worker.close() for worker in workers]
    runs[0].start_seconds = start_seconds("bench.worker", work, ours_env)
    if not have_tess:
        return runs[0], EngineRun(
            "tesseract",
            note="libtesseract not installed "
            "(apt-get install tesseract-ocr): its columns are skipped",
        )
    runs[1].start_seconds = cli_start_seconds(work, tess_env)
    return runs[0], runs[1]


def cli_start_seconds(work: Path, env: dict[str, str]) -> float:
    """Median over STARTS runs of `tesseract blank.png stdout --psm 1` on a 64 x 64 blank page:
    what a pipeline calling Tesseract's CLI pays per file besides the page itself."""
    blank = work / "blank.png"
    Image.new("L", (64, 64), 255).save(blank, dpi=(300, 300))
    times = []
    for _ in range(STARTS):
        begun = time.perf_counter()
        subprocess.run(
            ["tesseract", str(blank), "stdout", "--psm", "1"],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - begun)
    return statistics.median(times)


def soak_ours(scans: list[Scan], work: Path, count: int) -> tuple[dict[str, Any], float]:
    """One engine instance reading `count` pages: the RSS samples and the peak RSS."""
    worker = Worker("bench.worker", work)
    pages = [{"name": s.name, "path": str(s.path), "dpi": s.dpi} for s in scans]
    result = worker.ask({"soak": count, "pages": pages})
    return result, worker.close().peak_rss_mib


def _describe(info: dict[str, Any]) -> str:
    models = ", ".join(f"{k}={v}" for k, v in (info.get("models") or {}).items())
    return f"{info.get('name', '?')} {info.get('version', '')}" + (f" ({models})" if models else "")
