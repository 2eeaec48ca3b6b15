"""The one place for settings: environment (`TOOL_OCR_*`), an optional `.env`-style file, defaults.

Read at the edges (CLI, flow entry) and passed inward as plain values; tasks never read the
environment themselves.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

# The pipeline's tasks, in order: their Prefect names, task_attempts names and fault targets.
STEPS = ("fingerprint", "ingest", "render", "ocr", "pdf", "export", "record")
# Faults on one file, by a glob on its path in the inbox: its worker process dies, or its OCR
# never returns (a library that hangs).
FILE_FAULTS = ("crash", "hang")


class Settings(BaseSettings):
    """Typed settings for the whole pipeline; every field can be set as `TOOL_OCR_<NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="TOOL_OCR_", env_file=".tool_ocr.env", extra="ignore", frozen=True
    )

    home: Path = Field(Path("data"), description="Root of every folder below unless overridden.")
    inbox_dir: Path | None = Field(None, description="The hot folder (HOME/inbox).")
    processing_dir: Path | None = Field(None, description="Claimed files (HOME/processing).")
    processed_dir: Path | None = Field(
        None, description="Originals after success (HOME/processed)."
    )
    failed_dir: Path | None = Field(None, description="Quarantine with reasons (HOME/failed).")
    duplicates_dir: Path | None = Field(
        None, description="Files whose content was already processed (HOME/duplicates)."
    )
    output_dir: Path | None = Field(None, description="Searchable PDFs and exports (HOME/output).")
    state_dir: Path | None = Field(
        None, description="Live DuckDB, its lock, the watcher's heartbeat (HOME/state)."
    )
    work_dir: Path | None = Field(None, description="Page rasters in flight (HOME/work).")
    snapshot_path: Path | None = Field(
        None, description="Analysts' read-only DuckDB copy (default HOME/tool_ocr.duckdb)."
    )

    dpi: int = Field(300, ge=72, le=1200, description="Rasterisation dpi for scanned PDF pages.")
    min_dpi: int = Field(
        100, ge=36, description="A PDF page that only fits max_pixels below this dpi is refused."
    )
    max_pixels: int = Field(
        100_000_000, ge=1_000_000, description="Largest page raster accepted (width x height)."
    )
    max_file_mb: int = Field(512, ge=1, description="Largest input file accepted, in MiB.")
    max_pages: int = Field(2000, ge=1, description="Most pages accepted in one document.")
    text_layer_min_chars: int = Field(
        20, ge=1, description="A PDF page with at least this much readable text skips OCR."
    )

    ocr_models: Literal["bundled", "download"] = Field(
        "bundled",
        description="bundled: offline weights from installed packages (ocr_weights); "
        "download: PaddleOCR's own default models (needs internet on first use).",
    )
    ocr_weights: Literal["fast", "tiny", "balanced", "accurate", "ppocrv4"] = Field(
        "fast",
        description="Bundled weights (onnxruntime). fast: PP-OCRv6 tiny detection; the tiny "
        "recogniser reads every line and the small one the words it doubts; tiny: the tiny "
        "networks alone (about half fast's time, less accurate); balanced: fast doubting more "
        "(about 1.2x); accurate: PP-OCRv6 small detection and recognition (about 1.8x); "
        "ppocrv4: the PP-OCRv4 weights on Paddle Inference.",
    )
    ocr_lang: str = Field(
        "en",
        description="Language. bundled: 'ch' (or 'chinese_cht') reads Chinese and Latin "
        "script, any other value Latin script only (faster); download: PaddleOCR's language.",
    )
    ocr_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="CPU threads for OCR inference in one process. Unless set, `tool-ocr up` "
        "gives each of its workers the machine's cores divided among them (worker_threads).",
    )
    low_confidence: float = Field(
        0.80,
        ge=0,
        le=1,
        description="Words and lines below this confidence are flagged in exports and DuckDB.",
    )

    review_share: float = Field(
        0.10,
        ge=0,
        le=1,
        description="A document is flagged needs-review when more than this share of its words "
        "are below low_confidence, or when it has no text at all.",
    )
    db_lock_timeout: float = Field(
        60.0, gt=0, description="Seconds to wait for the DuckDB writer lock before giving up."
    )
    snapshot_interval: float = Field(
        1.0, ge=0, description="Least seconds between two republishings of the snapshot."
    )
    results_spool: Path | None = Field(
        None,
        description="Workers on other machines: write results as immutable files here "
        "(shared storage) instead of opening DuckDB; the watcher that owns state/ loads them.",
    )

    watch_polling: bool = Field(
        False, description="Poll the inbox instead of native events (needed on SMB/NFS shares)."
    )
    watch_poll_seconds: float = Field(2.0, gt=0, description="Polling interval when polling.")
    watch_quiet_seconds: float = Field(
        3.0,
        ge=0,
        description="A file is ready once untouched (no event, same size and mtime) for this long.",
    )
    watch_settle_seconds: float = Field(
        0.5,
        ge=0,
        description="A file its writer closed, or renamed into the inbox, is ready once "
        "untouched for this long instead (native events only; polling always waits "
        "watch_quiet_seconds).",
    )
    watch_rescan_seconds: float = Field(
        30.0, gt=0, description="Full rescan of the inbox, for files whose event was missed."
    )
    watch_ignore: str = Field(
        "",
        description="Extra glob patterns of file names to ignore, comma-separated "
        "(temporary and system files are always ignored).",
    )
    workers: int = Field(
        0,
        ge=0,
        description="OCR worker processes `tool-ocr up` runs, each keeping the engine loaded "
        "and reading one file at a time; 0: one per core.",
    )
    work_pool: str = Field(
        "tool-ocr",
        description="The Prefect work pool the deployments run on and the workers poll.",
    )
    file_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds a worker may spend on one file; past it the worker is stopped "
        "(a hung library cannot ignore that) and the file quarantined as timeout.",
    )
    retention_hours: float = Field(
        24.0,
        gt=0,
        description="prune-expired deletes processed originals, outputs and "
        "duplicates older than this.",
    )
    failed_retention_hours: float = Field(
        24.0 * 14, gt=0, description="Quarantined files in failed/ wait this long for a person."
    )
    prune_results: bool = Field(
        False, description="Also delete a pruned document's pages and lines from DuckDB."
    )
    prune_cron: str = Field("0 * * * *", description="Schedule of prune-expired (cron).")
    server_port: int = Field(
        4200, ge=1, le=65535, description="Port of the local Prefect server `tool-ocr up` starts."
    )

    faults: str = Field(
        "",
        description="Fault injection for testing, e.g. 'ocr:2,pdf:4': the named task fails "
        "transiently on its first N attempts; 'crash:<glob>' kills the worker reading a file "
        "whose inbox path matches, 'hang:<glob>' makes its OCR never return.",
    )

    @classmethod
    def load(cls) -> Settings:
        """Settings from the environment; a bad value is a ConfigError naming its variable."""
        try:
            return cls()
        except ValidationError as exc:
            problems = "; ".join(
                f"TOOL_OCR_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid settings: {problems}") from exc

    @field_validator("faults")
    @classmethod
    def _check_faults(cls, value: str) -> str:
        parse_faults(value)
        return value

    @model_validator(mode="after")
    def _check_layout(self) -> Settings:
        check_layout(self)
        return self

    def _dir(self, value: Path | None, name: str) -> Path:
        return (value if value is not None else self.home / name).resolve()

    @property
    def inbox(self) -> Path:
        return self._dir(self.inbox_dir, "inbox")

    @property
    def processing(self) -> Path:
        return self._dir(self.processing_dir, "processing")

    @property
    def processed(self) -> Path:
        return self._dir(self.processed_dir, "processed")

    @property
    def failed(self) -> Path:
        return self._dir(self.failed_dir, "failed")

    @property
    def duplicates(self) -> Path:
        return self._dir(self.duplicates_dir, "duplicates")

    @property
    def output(self) -> Path:
        return self._dir(self.output_dir, "output")

    @property
    def state(self) -> Path:
        return self._dir(self.state_dir, "state")

    @property
    def work(self) -> Path:
        return self._dir(self.work_dir, "work")

    @property
    def live_db(self) -> Path:
        return self.state / "pipeline.duckdb"

    @property
    def spool(self) -> Path:
        """Where the watcher loads results from: `results_spool`, or this machine's own spool
        (the workers `tool-ocr up` starts write there)."""
        return (self.results_spool or self.state / "spool").resolve()

    @property
    def snapshot(self) -> Path:
        return (self.snapshot_path or self.home / "tool_ocr.duckdb").resolve()

    @property
    def worker_count(self) -> int:
        """OCR worker processes on this machine: `workers`, or one per core."""
        return self.workers or max(1, os.cpu_count() or 1)

    @property
    def worker_threads(self) -> int:
        """OCR threads for each worker `tool-ocr up` starts: `ocr_threads` when set, else the
        cores divided among the workers. Two workers of two threads on two cores read a burst
        6 % slower than two of one thread (docs/benchmarks.md): their four threads wait on
        each other."""
        if "ocr_threads" in self.model_fields_set:
            return self.ocr_threads
        return max(1, (os.cpu_count() or 1) // self.worker_count)

    @property
    def fault_plan(self) -> dict[str, int]:
        return parse_faults(self.faults)

    @property
    def file_faults(self) -> dict[str, str]:
        """{'crash' or 'hang': glob of the files it applies to} (testing only)."""
        return parse_file_faults(self.faults)

    def folders(self) -> dict[str, Path]:
        """Every folder the pipeline owns, by name."""
        return {
            "inbox": self.inbox,
            "processing": self.processing,
            "processed": self.processed,
            "failed": self.failed,
            "duplicates": self.duplicates,
            "output": self.output,
            "state": self.state,
            "work": self.work,
        }

    def ensure_folders(self) -> None:
        """Create every folder (and the snapshot's parent) if missing."""
        for path in self.folders().values():
            path.mkdir(parents=True, exist_ok=True)
        self.snapshot.parent.mkdir(parents=True, exist_ok=True)


def parse_faults(spec: str) -> dict[str, int]:
    """Parse 'ocr:2,pdf:4' into {'ocr': 2, 'pdf': 4}; task names must be pipeline steps.

    'crash:<glob>' and 'hang:<glob>' items are file faults (`parse_file_faults`), skipped here.
    """
    plan: dict[str, int] = {}
    for name, count in _fault_items(spec):
        if name in FILE_FAULTS:
            continue
        if not count.isdigit():
            raise ConfigError(f"TOOL_OCR_FAULTS: expected 'task:count', got '{name}:{count}'")
        if name not in STEPS:
            raise ConfigError(
                f"TOOL_OCR_FAULTS: no task {name!r}; tasks: {', '.join(STEPS)}; "
                f"file faults: {', '.join(FILE_FAULTS)}"
            )
        plan[name] = int(count)
    return plan


def parse_file_faults(spec: str) -> dict[str, str]:
    """Parse 'crash:bad*.png,hang:slow.pdf' into {'crash': 'bad*.png', 'hang': 'slow.pdf'}."""
    return {name: glob for name, glob in _fault_items(spec) if name in FILE_FAULTS}


def _fault_items(spec: str) -> list[tuple[str, str]]:
    items = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = (part.strip() for part in item.partition(":"))
        if not sep or not value:
            raise ConfigError(f"TOOL_OCR_FAULTS: expected 'task:count', got {item!r}")
        items.append((name, value))
    return items


def check_layout(settings: Settings) -> None:
    """Refuse folder layouts where one folder lies inside another (or is the same)."""
    folders = settings.folders()
    for name, path in folders.items():
        for other, other_path in folders.items():
            if name != other and (path == other_path or path.is_relative_to(other_path)):
                raise ConfigError(
                    f"{name} folder {path} lies inside the {other} folder {other_path}; "
                    f"point TOOL_OCR_{name.upper()}_DIR somewhere else"
                )
    for name, path in folders.items():
        if settings.snapshot.is_relative_to(path):
            raise ConfigError(
                f"snapshot {settings.snapshot} lies inside the {name} folder "
                f"{path}; point TOOL_OCR_SNAPSHOT_PATH somewhere else"
            )


def markdown() -> str:
    """docs/settings.md: every setting with its variable, type, default and description."""
    rows = [
        "# Settings",
        "",
        "Generated from `core/settings.py` by `make docs` (`python -m core.settings`); a test",
        "fails when this file is stale. Every field is an environment variable `TOOL_OCR_<NAME>`,",
        "also read from a `.tool_ocr.env` file in the working directory; a bad value stops the",
        "command at start with a message naming the variable.",
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else f"`{field.default}`"
        kind = _kind(field.annotation)
        rows.append(f"| `TOOL_OCR_{name.upper()}` | {kind} | {default} | {field.description} |")
    return "\n".join(rows) + "\n"


def _kind(annotation: object) -> str:
    """A reader's name for a field's type."""
    names = {int: "integer", float: "number", bool: "true/false", str: "text", Path: "path"}
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if args:
        return _kind(args[0])
    return names.get(annotation, str(annotation))  # type: ignore[call-overload]


if __name__ == "__main__":
    print(markdown(), end="")
