"""Settings: folders derived from TOOL_OCR_HOME, typed overrides, refused layouts, fault plans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.errors import ConfigError
from core.settings import Settings, markdown, parse_faults, parse_file_faults

FOLDERS = ("inbox", "processing", "processed", "failed", "duplicates", "output", "state", "work")


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment (no TOOL_OCR_* variables, no .tool_ocr.env) with TOOL_OCR_HOME set."""
    for key in [k for k in os.environ if k.startswith("TOOL_OCR_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOL_OCR_HOME", str(tmp_path / "ocr"))
    return tmp_path / "ocr"


def test_every_folder_defaults_under_home(home: Path) -> None:
    settings = Settings()

    assert settings.folders() == {name: home / name for name in FOLDERS}
    assert settings.live_db == home / "state" / "pipeline.duckdb"
    assert settings.snapshot == home / "tool_ocr.duckdb"
    assert (settings.dpi, settings.ocr_models, settings.fault_plan) == (300, "bundled", {})


def test_relative_home_resolves_against_the_working_directory(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_HOME", "data")

    assert Settings().inbox == home.parent / "data" / "inbox"


def test_env_overrides_are_typed(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_DPI", "200")
    monkeypatch.setenv("TOOL_OCR_LOW_CONFIDENCE", "0.5")
    monkeypatch.setenv("TOOL_OCR_OCR_MODELS", "download")
    monkeypatch.setenv("TOOL_OCR_INBOX_DIR", str(tmp_path / "scans"))

    settings = Settings()

    assert (settings.dpi, settings.low_confidence, settings.ocr_models) == (200, 0.5, "download")
    assert settings.inbox == tmp_path / "scans"
    assert settings.processing == home / "processing"  # the others stay under home


def test_the_optional_env_file_is_read_and_the_environment_wins(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".tool_ocr.env").write_text("TOOL_OCR_DPI=150\nTOOL_OCR_MAX_PAGES=7\n")
    monkeypatch.setenv("TOOL_OCR_MAX_PAGES", "9")

    assert (Settings().dpi, Settings().max_pages) == (150, 9)


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [
        ("TOOL_OCR_DPI", "abc", "dpi"),
        ("TOOL_OCR_DPI", "50", "dpi"),
        ("TOOL_OCR_OCR_THREADS", "0", "ocr_threads"),
        ("TOOL_OCR_LOW_CONFIDENCE", "1.5", "low_confidence"),
        ("TOOL_OCR_OCR_MODELS", "cloud", "ocr_models"),
        ("TOOL_OCR_DB_LOCK_TIMEOUT", "0", "db_lock_timeout"),
    ],
)
def test_bad_values_are_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, field: str
) -> None:
    monkeypatch.setenv(var, value)

    with pytest.raises(ValidationError, match=field):
        Settings()


def test_a_bad_value_is_a_config_error_naming_the_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_DPI", "abc")

    with pytest.raises(ConfigError, match="TOOL_OCR_DPI"):
        Settings.load()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TOOL_OCR_OUTPUT_DIR": "{home}/inbox/out"}, "TOOL_OCR_OUTPUT_DIR"),
        ({"TOOL_OCR_INBOX_DIR": "{home}/processed"}, "TOOL_OCR_INBOX_DIR"),
        ({"TOOL_OCR_WORK_DIR": "{home}/state/pages"}, "TOOL_OCR_WORK_DIR"),
        ({"TOOL_OCR_INBOX_DIR": "{home}/output/in"}, "TOOL_OCR_INBOX_DIR"),
        ({"TOOL_OCR_SNAPSHOT_PATH": "{home}/inbox/tool_ocr.duckdb"}, "snapshot"),
    ],
)
def test_nested_folder_layouts_are_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(home=home))

    with pytest.raises(ConfigError, match=named):
        Settings()


def test_snapshot_inside_inbox_names_its_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_SNAPSHOT_PATH", str(home / "inbox" / "tool_ocr.duckdb"))

    with pytest.raises(ConfigError, match="TOOL_OCR_SNAPSHOT_PATH"):
        Settings()


def test_snapshot_on_the_live_database_is_refused(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_SNAPSHOT_PATH", str(home / "state" / "pipeline.duckdb"))

    with pytest.raises(ConfigError, match="TOOL_OCR_SNAPSHOT_PATH"):
        Settings()


def test_separate_folders_outside_home_are_accepted(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_INBOX_DIR", str(tmp_path / "scanner"))
    monkeypatch.setenv("TOOL_OCR_SNAPSHOT_PATH", str(tmp_path / "share" / "ocr.duckdb"))

    settings = Settings()

    assert settings.snapshot == tmp_path / "share" / "ocr.duckdb"


@pytest.mark.parametrize(
    ("spec", "plan"),
    [
        ("", {}),
        ("ocr:2", {"ocr": 2}),
        ("ocr:2,pdf:4", {"ocr": 2, "pdf": 4}),
        (" ocr : 2 , pdf:0 ,", {"ocr": 2, "pdf": 0}),
    ],
)
def test_fault_plans_parse(spec: str, plan: dict[str, int]) -> None:
    assert parse_faults(spec) == plan


@pytest.mark.parametrize(
    "spec", ["ocr", "ocr:x", "ocr:-1", ":2", "ocr:2,pdf", "orc:2", "searchable-pdf:4"]
)
def test_malformed_fault_plans_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError, match="TOOL_OCR_FAULTS"):
        parse_faults(spec)


def test_file_faults_name_a_glob_and_leave_the_task_plan_alone() -> None:
    spec = "ocr:1,crash:bad*.png,hang:slow.pdf"
    assert parse_faults(spec) == {"ocr": 1}
    assert parse_file_faults(spec) == {"crash": "bad*.png", "hang": "slow.pdf"}
    with pytest.raises(ConfigError, match="TOOL_OCR_FAULTS"):
        parse_file_faults("crash:")


def test_fault_plan_from_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOL_OCR_FAULTS", "ocr:2,pdf:4")
    assert Settings().fault_plan == {"ocr": 2, "pdf": 4}

    monkeypatch.setenv("TOOL_OCR_FAULTS", "ocr:x")
    with pytest.raises(ConfigError, match="TOOL_OCR_FAULTS"):
        Settings()


def test_ensure_folders_creates_every_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOL_OCR_SNAPSHOT_PATH", str(tmp_path / "share" / "deep" / "ocr.duckdb"))
    settings = Settings()

    settings.ensure_folders()
    settings.ensure_folders()  # a second run finds them and changes nothing

    assert all(path.is_dir() for path in settings.folders().values())
    assert sorted(p.name for p in home.iterdir()) == sorted(FOLDERS)
    assert (tmp_path / "share" / "deep").is_dir()


def test_workers_are_one_per_core_unless_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert Settings().worker_count == 8
    monkeypatch.setenv("TOOL_OCR_WORKERS", "3")
    assert Settings().worker_count == 3
    monkeypatch.setattr("os.cpu_count", lambda: None)
    monkeypatch.delenv("TOOL_OCR_WORKERS")
    assert Settings().worker_count == 1  # never zero


def test_up_divides_the_cores_among_its_workers_unless_threads_are_set(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert (Settings().worker_threads, Settings().ocr_threads) == (1, 2)  # 8 workers
    monkeypatch.setenv("TOOL_OCR_WORKERS", "3")
    assert Settings().worker_threads == 2
    monkeypatch.setenv("TOOL_OCR_WORKERS", "16")
    assert Settings().worker_threads == 1  # never zero
    monkeypatch.setenv("TOOL_OCR_OCR_THREADS", "4")
    assert Settings().worker_threads == 4  # the user's choice stands


def test_the_settings_document_is_generated_from_the_settings_class() -> None:
    """docs/settings.md is what `make docs` writes: every field, its default and description."""
    document = Path(__file__).parent.parent / "docs" / "settings.md"
    assert document.read_text("utf-8") == markdown(), "docs/settings.md is stale: run `make docs`"
    for name, field in Settings.model_fields.items():
        assert f"`TOOL_OCR_{name.upper()}`" in document.read_text("utf-8")
        assert field.description
