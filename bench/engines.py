"""The two engines under test, each measured in processes of its own.

Ours runs in `bench.worker` (one process: model load, then every page); Tesseract runs as
`tesseract <img> stdout --psm 3`, one process per page, as a pipeline calling it would. The two
alternate page by page. Peak RSS is each process's own ru_maxrss (our worker's; the largest of
the Tesseract children), never the benchmark's own.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]  # the repository: bench/ and the pipeline's packages


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
    load_seconds: float = 0.0
    peak_rss_mib: float = 0.0
    note: str = ""

    @property
    def ran(self) -> bool:
        return not self.note


class OursWorker:
    """Our engine in a `bench.worker` child process, asked one page at a time."""

    def __init__(self, work: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        self._log_path = work / "ours.log"
        self._log = self._log_path.open("w")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"],
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        hello = self._receive()
        self.run = EngineRun("ours", _describe(hello["engine"]), load_seconds=hello["load_seconds"])

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
            raise RuntimeError(f"our engine's worker died ({self._proc.returncode}):\n{tail}")
        reply: dict[str, Any] = json.loads(line)
        return reply


def run_side_by_side(scans: list[Scan], work: Path) -> tuple[EngineRun, EngineRun]:
    """Both engines page by page (ours, then Tesseract on the same page): load changes on the
    machine hit both alike."""
    ours, tess = OursWorker(work), Tesseract()
    for i, scan in enumerate(scans, start=1):
        ours.read(scan)
        tess.read(scan)
        print(
            f"  {i}/{len(scans)} {scan.name}: ours {ours.run.seconds[scan.name]:.2f} s"
            + (f", tesseract {tess.run.seconds[scan.name]:.2f} s" if tess.run.ran else ""),
            flush=True,
        )
    return ours.close(), tess.run


def soak_ours(scans: list[Scan], work: Path, count: int) -> tuple[dict[str, Any], float]:
    """One engine instance reading `count` pages: the RSS samples and the peak RSS."""
    worker = OursWorker(work)
    pages = [{"name": s.name, "path": str(s.path), "dpi": s.dpi} for s in scans]
    result = worker.ask({"soak": count, "pages": pages})
    return result, worker.close().peak_rss_mib


def _describe(info: dict[str, Any]) -> str:
    models = ", ".join(f"{k}={v}" for k, v in (info.get("models") or {}).items())
    return f"{info.get('name', '?')} {info.get('version', '')} ({models})".strip()


class Tesseract:
    """Tesseract 5 via its CLI (--psm 3), one process per page; a note when not installed."""

    def __init__(self, binary: str = "tesseract") -> None:
        self.exe = shutil.which(binary)
        if self.exe is None:
            self.run = EngineRun(
                "tesseract",
                note="tesseract not installed (apt-get install "
                "tesseract-ocr): its columns are skipped",
            )
            return
        self.run = EngineRun("tesseract", _tesseract_version(self.exe))
        with tempfile.TemporaryDirectory() as tmp:
            blank = Path(tmp) / "blank.png"
            Image.new("L", (64, 64), 255).save(blank, dpi=(300, 300))
            self.run.load_seconds = statistics.median(
                _tesseract(self.exe, blank)[1] for _ in range(3)
            )

    def read(self, scan: Scan) -> None:
        """Read `scan` into `self.run` (nothing when Tesseract is missing)."""
        if self.exe is None:
            return
        text, seconds, rss = _tesseract(self.exe, scan.path)
        _, single, rss_single = _tesseract(self.exe, scan.path, threads="1")
        # Its strongest showing: the faster of its default OpenMP threads and one thread (on 2
        # busy cores its default threads can stall it several-fold).
        self.run.texts[scan.name], self.run.seconds[scan.name] = text, min(seconds, single)
        self.run.peak_rss_mib = max(self.run.peak_rss_mib, rss, rss_single)


def _tesseract_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return (
        f"{(out.stdout or out.stderr).splitlines()[0].strip()}, s/page: the faster of its "
        "default OpenMP threads and OMP_THREAD_LIMIT=1"
    )


def _tesseract(exe: str, image: Path, threads: str | None = None) -> tuple[str, float, float]:
    """Text, wall seconds and peak RSS (MiB) of one `tesseract IMAGE stdout --psm 3` process
    (`threads`: its OMP_THREAD_LIMIT; None leaves the environment's)."""
    env = {**os.environ, **({"OMP_THREAD_LIMIT": threads} if threads else {})}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [exe, str(image), "stdout", "--psm", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract failed on {image.name} ({proc.returncode})")
    return out.decode("utf-8", errors="replace"), seconds, usage.ru_maxrss / 1024
