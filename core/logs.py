"""Our loggers: one INFO line per state change of a file, in the terminal and the Prefect UI."""

import logging

# Our packages, whose loggers Prefect must carry to its UI (PREFECT_LOGGING_EXTRA_LOGGERS).
PACKAGES = ("core", "engine", "store", "tasks", "flows", "watch", "deployments", "tool_ocr")


def show_logs(level: int = logging.INFO) -> None:
    """Prefect gives PREFECT_LOGGING_EXTRA_LOGGERS its handlers but not a level: without one,
    our INFO lines (one per state change of a file) would never reach the UI or the terminal."""
    for package in PACKAGES:
        logging.getLogger(package).setLevel(level)
