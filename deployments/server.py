"""A local Prefect server for one machine (`tool-ocr up`), used only when none answers.

SQLite under TOOL_OCR_HOME/prefect, bound to 127.0.0.1, analytics off, the UI's static files
kept out of the virtualenv, and the database clean-up service on so a busy hot folder does not
fill the disk with old runs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from core.errors import ConfigError
from core.settings import Settings

log = logging.getLogger(__name__)
RUN_RETENTION_SECONDS = 14 * 24 * 3600  # finished runs older than this leave Prefect's database
# The task run recorder writes each task-run event in a transaction of its own by default. On
# SQLite those writes collide with the API's (flow run created, state set): the request fails
# "database is locked", the client waits two seconds and tries again. Batched, a flow run of six
# tasks went from 1.8 s to 0.23 s of wall time and from 0.26 to 0.13 s of server CPU
# (docs/benchmarks.md).
# The event persister keeps a copy of every event for the UI's event feed (runs, task runs,
# their states, logs and artifacts are recorded without it): a third of the server's CPU per
# file. Set PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED=true to keep the feed.
RECORDER_BATCHES = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
}


def api_answers(api_url: str, timeout: float = 2.0) -> bool:
    """True when a Prefect API answers its health check at `api_url`."""
    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def is_local(api_url: str) -> bool:
    host = httpx.URL(api_url).host
    return host in ("127.0.0.1", "localhost", "::1")


def server_env(settings: Settings) -> dict[str, str]:
    """The environment of the local server (anything already set wins). The UI is told where
    the API is: without it, the browser app calls port 4200 whatever port the server has."""
    home = settings.home.resolve() / "prefect"
    api_url = f"http://127.0.0.1:{settings.server_port}/api"
    defaults = {
        "PREFECT_UI_API_URL": api_url,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_STATIC_DIRECTORY": str(home / "ui"),
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(RUN_RETENTION_SECONDS),
        **RECORDER_BATCHES,
    }
    return {**defaults, **os.environ}


def start_local_server(
    settings: Settings, preexec: Callable[[], None] | None = None, timeout: float = 120.0
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `prefect server start` on 127.0.0.1; returns (process, API URL) once it answers."""
    api_url = f"http://127.0.0.1:{settings.server_port}/api"
    if api_answers(api_url):
        raise ConfigError(
            f"a Prefect server already answers at {api_url}: set "
            f"PREFECT_API_URL={api_url} to use it, or TOOL_OCR_SERVER_PORT"
        )
    env = server_env(settings)
    Path(env["PREFECT_SERVER_UI_STATIC_DIRECTORY"]).mkdir(parents=True, exist_ok=True)
    logfile = (settings.state / "prefect-server.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.server_port),
        ],
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
    )
    deadline = time.monotonic() + timeout
    while not api_answers(api_url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ConfigError(
                f"the local Prefect server did not start (exit {process.poll()}); "
                f"see {logfile.name}"
            )
        time.sleep(0.5)
    log.info("local Prefect server at %s (SQLite under %s)", api_url, env["PREFECT_HOME"])
    return process, api_url
