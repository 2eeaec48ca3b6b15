"""`tool-ocr up`: the whole service on one machine, started and stopped as one.

A local Prefect server when none answers, the deployments on the work pool, then the children:
`tool-ocr worker` (one per core by default, each keeping the OCR engine loaded) and `tool-ocr
watch`. Workers spool their results and the watcher loads them, so one process owns DuckDB.

One `up` per home: it holds state/up.lock, and its children die with it (a parent-death signal),
even when it is killed outright. Should any survive anyway, the next `up` ends them (their pids
are in state/up.json) before it starts. A child that dies is restarted. Ctrl-C or SIGTERM stops
the watcher first (no new claims), then the workers (a file in hand may finish), then the
server; files waiting or half-done are picked up at the next start.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from core.errors import ConfigError
from core.settings import Settings
from deployments.serve import register
from deployments.server import api_answers, is_local, start_local_server
from deployments.worker import STOP_GRACE

log = logging.getLogger(__name__)
RESTART_DELAY = 5.0
STOP_TIMEOUT = STOP_GRACE + 30.0  # a worker may finish its file, then cancel it
_PR_SET_PDEATHSIG = 1


def run(settings: Settings, announce: Callable[[str], None]) -> None:
    """Bring everything up, supervise until a signal, then stop it all in order."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    with exclusive(settings.state / "up.lock"):
        end_orphans(settings.state / "up.json")
        os.environ.setdefault("TOOL_OCR_RESULTS_SPOOL", str(settings.spool))  # the watcher loads
        os.environ["TOOL_OCR_OCR_THREADS"] = str(settings.worker_threads)
        server = connect(settings)
        children: dict[str, subprocess.Popen[bytes]] = {}
        try:
            register(settings)
            names = ["watch", *(f"worker-{i}" for i in range(1, settings.worker_count + 1))]
            for name in names:
                children[name] = spawn(name)
            remember(settings.state / "up.json", server, children)
            announce(_banner(settings))
            supervise(settings, stopping, server, children)
        finally:
            stop_all(server, children)
            (settings.state / "up.json").unlink(missing_ok=True)
            announce("stopped; files still in the inbox or processing/ are picked up next time")


def _banner(settings: Settings) -> str:
    ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
    return (
        f"Prefect UI: {ui}\nDrop scans into: {settings.inbox}\n"
        f"Results: {settings.output} · DuckDB: {settings.snapshot}\n"
        f"{settings.worker_count} worker(s), {settings.worker_threads} OCR thread(s) each · "
        "Ctrl-C stops."
    )


def supervise(
    settings: Settings,
    stopping: threading.Event,
    server: subprocess.Popen[bytes] | None,
    children: dict[str, subprocess.Popen[bytes]],
) -> None:
    """Restart whatever exits (the server first: everything else needs it)."""
    while not stopping.wait(1.0):
        if server is not None and server.poll() is not None:
            log.warning("the Prefect server exited with %s; starting it again", server.returncode)
            server = connect(settings)
            remember(settings.state / "up.json", server, children)
        for name, child in children.items():
            if child.poll() is not None and not stopping.wait(RESTART_DELAY):
                log.warning("%s exited with %s; restarted", name, child.returncode)
                children[name] = spawn(name)
                remember(settings.state / "up.json", server, children)


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """One `up` per home: an exclusive flock, released when this process ends however it
    ends."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = Path(lock).read_text(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"another `tool-ocr up` runs for this home (pid {holder}); stop it first, or set "
            "TOOL_OCR_HOME to run a second service"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    try:
        yield
    finally:
        os.close(fd)


def end_orphans(record: Path) -> None:
    """End the children a previous `up` of this home left (it was killed outright)."""
    try:
        previous = json.loads(record.read_text("utf-8"))
    except (OSError, ValueError):
        return
    for name, pid in previous.items():
        if _ours(int(pid)):
            log.warning(
                "a previous `tool-ocr up` left its %s (pid %s) running: ending it", name, pid
            )
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
    record.unlink(missing_ok=True)


def _ours(pid: int) -> bool:
    """Whether `pid` is a live process of this project (a reused pid is left alone)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"tool_ocr" in command or b"prefect server start" in command


def remember(
    record: Path,
    server: subprocess.Popen[bytes] | None,
    children: dict[str, subprocess.Popen[bytes]],
) -> None:
    body = {name: child.pid for name, child in children.items()}
    if server is not None:
        body["server"] = server.pid
    record.write_text(json.dumps(body), "utf-8")


def connect(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Use the Prefect API that answers, or start a local server; returns the server started."""
    api_url = os.environ.get("PREFECT_API_URL", "")
    if api_url and api_answers(api_url):
        return None
    if api_url and not is_local(api_url):
        raise ConfigError(
            f"PREFECT_API_URL={api_url} does not answer; start that server or "
            "unset PREFECT_API_URL to run a local one"
        )
    server, os.environ["PREFECT_API_URL"] = start_local_server(settings, _die_with_parent)
    return server


def spawn(name: str) -> subprocess.Popen[bytes]:
    """A child `tool-ocr <command>` in its own session (a terminal's Ctrl-C reaches only us,
    so the children stop in our order), which dies with us."""
    command = ["watch"] if name == "watch" else ["worker", "--no-deploy"]
    return subprocess.Popen(
        [sys.executable, "-m", "tool_ocr.cli", *command],
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent dies (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop_all(
    server: subprocess.Popen[bytes] | None, children: dict[str, subprocess.Popen[bytes]]
) -> None:
    """The watcher first, then the workers together, then the server."""
    if "watch" in children:
        stop([children["watch"]], "watcher")
    stop([c for n, c in children.items() if n != "watch"], "workers")
    if server is not None:
        stop([server], "Prefect server")


def stop(processes: list[subprocess.Popen[bytes]], what: str) -> None:
    """SIGTERM, wait, then SIGKILL what will not go."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in processes:
        if process.poll() is None:
            log.warning(
                "%s (pid %s) did not stop within %gs; killing it", what, process.pid, STOP_TIMEOUT
            )
            process.kill()
            process.wait()
