"""`tool-ocr up`: the whole service on one machine, started and stopped as one.

A local Prefect server when none answers, then two children: `tool-ocr serve` (the deployments)
and `tool-ocr watch` (the hot folder). A child that dies is restarted. Ctrl-C or SIGTERM stops
the watcher first (no new claims), then the runner (runs in flight are cancelled; their files
stay claimed in processing/ and are submitted again at the next start), then the server.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from core.errors import ConfigError
from core.settings import Settings
from deployments.server import api_answers, is_local, start_local_server

log = logging.getLogger(__name__)
CHILDREN = ("serve", "watch")
RESTART_DELAY = 5.0
STOP_TIMEOUT = 90.0  # the runner cancels its runs one by one before it exits


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
    server, os.environ["PREFECT_API_URL"] = start_local_server(settings)
    return server


def spawn(command: str) -> subprocess.Popen[bytes]:
    """`tool-ocr <command>` as a child in its own session: a terminal's Ctrl-C reaches only us,
    so the children stop in our order, not all at once."""
    return subprocess.Popen([sys.executable, "-m", "tool_ocr.cli", command], start_new_session=True)


def run(settings: Settings, announce: Callable[[str], None]) -> None:
    """Bring everything up, supervise until a signal, then stop it all in order."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    server = connect(settings)
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        children.update({name: spawn(name) for name in CHILDREN})
        ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
        announce(
            f"Prefect UI: {ui}\nDrop scans into: {settings.inbox}\n"
            f"Results: {settings.output} · DuckDB: {settings.snapshot}\nCtrl-C stops."
        )
        while not stopping.wait(1.0):
            if server is not None and server.poll() is not None:
                log.warning(
                    "the Prefect server exited with %s; starting it again", server.returncode
                )
                server = connect(settings)
            for name, child in children.items():
                if child.poll() is not None and not stopping.wait(RESTART_DELAY):
                    log.warning("%s exited with %s; restarted", name, child.returncode)
                    children[name] = spawn(name)
    finally:
        for name in ("watch", "serve"):
            if name in children:
                stop(children[name], name)
        if server is not None:
            stop(server, "Prefect server")
        announce("stopped; files still in the inbox or processing/ are picked up next time")


def stop(process: subprocess.Popen[bytes], name: str) -> None:
    """SIGTERM, wait, then SIGKILL if it will not go."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if process.poll() is None:
        log.warning("%s did not stop within %gs; killing it", name, STOP_TIMEOUT)
        process.kill()
        process.wait()
