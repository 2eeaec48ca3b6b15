"""Shared fixtures: an isolated TOOL_OCR_HOME, a local Prefect, and scan-like inputs made here."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from core.logs import PACKAGES
from core.settings import Settings

# Prefect writes its own state under the test session's folder, never in the user's home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", ",".join(PACKAGES))
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A temporary local Prefect server (SQLite) for every test that runs a flow."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings rooted in a fresh folder, exported to the environment flows read."""
    for key in [k for k in os.environ if k.startswith("TOOL_OCR_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TOOL_OCR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TOOL_OCR_SNAPSHOT_INTERVAL", "0")
    current = Settings()
    current.ensure_folders()
    return current


def text_page(
    lines: Sequence[str],
    *,
    size: int = 44,
    width: int = 1400,
    margin: int = 60,
    gap: float = 1.9,
    mode: str = "L",
) -> Image.Image:
    """A clean, scan-like page with `lines` in Pillow's built-in scalable font."""
    font = ImageFont.load_default(size=size)
    height = int(2 * margin + gap * size * len(lines))
    img = Image.new(mode, (width, height), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * gap * size), line, fill="black", font=font)
    return img


def words_of(text: str) -> set[str]:
    """Lower-cased words, punctuation stripped, for 'known words found' assertions."""
    return {w.strip(".,;:!?()").lower() for w in text.split() if w.strip(".,;:!?()")}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI every test must run: a skip (a tool, the corpus or a browser missing) fails.
    `.ci/run` installs what the tests need, so a skip there means an install step is missing."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get("CI") and report.skipped and call.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI: {report.longrepr}"
