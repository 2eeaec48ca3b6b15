"""Typed errors: transient ones are retried, rejected ones fail the file at once with a reason.

Foreign exceptions are translated into these where the foreign library is called. Every error
carries a message a person can act on and an exit code for the CLI.
"""

from __future__ import annotations


class ToolOcrError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1
    transient = False

    @property
    def kind(self) -> str:
        """Short machine-readable name, e.g. 'corrupt_file'."""
        name = type(self).__name__.removesuffix("Error")
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class ConfigError(ToolOcrError):
    """The settings are unusable (bad value, folders inside each other)."""

    exit_code = 3


class TransientError(ToolOcrError):
    """Worth retrying: I/O hiccup, database lock, file still being written, injected fault."""

    exit_code = 75  # EX_TEMPFAIL
    transient = True


class DatabaseBusyError(TransientError):
    """The DuckDB writer lock could not be taken in time."""


class InjectedFaultError(TransientError):
    """A fault injected through TOOL_OCR_FAULTS, to exercise the retry path."""


class EngineError(TransientError):
    """The OCR engine failed on a page for a reason that may pass (out of memory, crash)."""


class RejectedError(ToolOcrError):
    """Final: the input can never be processed as it is; this is the reason a person reads."""

    exit_code = 65  # EX_DATAERR


class MissingFileError(RejectedError):
    """The path names no file (mistyped, or removed before it could be read)."""


class UnsupportedFileError(RejectedError):
    """Not a format we read (by content, not by name)."""


class CorruptFileError(RejectedError):
    """The file claims a supported format but cannot be decoded."""


class EncryptedPdfError(RejectedError):
    """The PDF needs a password to open."""


class TooLargeError(RejectedError):
    """Too many bytes, pages or pixels (decompression bombs land here)."""


class EmptyDocumentError(RejectedError):
    """The file holds no pages."""


class ModelError(ToolOcrError):
    """The OCR models could not be found or loaded; an installation problem, not the file's."""

    exit_code = 69  # EX_UNAVAILABLE


class NoSnapshotError(ToolOcrError):
    """No analysts' snapshot has been published yet, so there is nothing to query."""

    exit_code = 69  # EX_UNAVAILABLE


class FilesFailedError(ToolOcrError):
    """Some files of a hot-folder batch failed (each was quarantined with its reason)."""


class QueryError(ToolOcrError):
    """An analyst's query was refused by DuckDB (syntax, unknown column, a write...)."""

    exit_code = 2


def is_transient(exc: BaseException | None) -> bool:
    """True when `exc` is worth another attempt."""
    return isinstance(exc, (TransientError, TimeoutError, ConnectionError))


def describe(exc: BaseException) -> tuple[str, str]:
    """(error type, message) for recording any exception."""
    if isinstance(exc, ToolOcrError):
        return exc.kind, str(exc)
    return type(exc).__name__, str(exc) or repr(exc)
