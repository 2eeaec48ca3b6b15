"""Our loggers: one INFO line per state change of a file, in the terminal and the Prefect UI.

Expected outcomes read as such: a file refused for what it is (corrupt, encrypted, too large...)
is said once, by our own line, not with a traceback from each of Prefect's engines; a retry is
a warning, so a Warning filter in the UI still shows it; a step that simply completed is not
logged (the UI shows its state), which keeps the log, and the server, to what matters.
"""

import logging
import sys

from core.errors import ToolOcrError

# Our packages, whose loggers Prefect must carry to its UI (PREFECT_LOGGING_EXTRA_LOGGERS).
PACKAGES = ("core", "engine", "store", "tasks", "flows", "watch", "deployments", "tool_ocr")
# Prefect's loggers of task and flow runs (no import of Prefect here: the ground knows none).
RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


class ExpectedOutcomes(logging.Filter):
    """Drops Prefect's report of an expected refusal (ours says it once, without a
    traceback) and of each completed task, and raises retries to WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ToolOcrError) and not error.transient:
            return False
        if record.name.startswith(RUN_LOGGERS[0]) and str(record.msg).endswith("Completed()"):
            return False
        if record.levelno == logging.INFO and "Retry" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def show_logs(level: int = logging.INFO) -> None:
    """Prefect gives PREFECT_LOGGING_EXTRA_LOGGERS its handlers but not a level: without one,
    our INFO lines (one per state change of a file) would never reach the UI or the terminal."""
    for package in PACKAGES:
        logging.getLogger(package).setLevel(level)
    for name in RUN_LOGGERS:
        run_logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedOutcomes) for f in run_logger.filters):
            run_logger.addFilter(ExpectedOutcomes())


def to_terminal(level: int = logging.INFO) -> None:
    """Our lines on stderr as Prefect's console handler writes them, for a process that does not
    load Prefect (the watcher)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S"
        )
    )
    for package in PACKAGES:
        logger = logging.getLogger(package)
        logger.addHandler(handler)
        logger.setLevel(level)
