"""What operators see in the Prefect UI besides logs: per-document summaries and OCR progress.

Artifacts are a courtesy: a failure to create one is logged and never fails the document.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)

from core.settings import Settings
from core.values import Outputs, Page, Review, Source, review

log = logging.getLogger(__name__)
_LOW_LINES_SHOWN = 10
# Until every caller passes the review_share setting, the settings' default stands in for it.
_REVIEW_SHARE = float(Settings.model_fields["review_share"].default)


class PageProgress:
    """A progress artifact that moves while a multi-page document is being read."""

    def __init__(self, source: Source, total: int) -> None:
        self.source, self.total, self.done = source, total, 0
        self.id: UUID | None = None
        if total > 1:
            self.id = _quietly(
                create_progress_artifact,
                0.0,
                key=artifact_key("progress", source),
                description=f"OCR of {source.name}: 0 of {total} pages",
            )

    def advance(self) -> None:
        """One more page read."""
        self.done += 1
        if self.id is not None:
            _quietly(
                update_progress_artifact,
                self.id,
                100.0 * self.done / self.total,
                description=f"OCR of {self.source.name}: {self.done} of {self.total} pages",
            )


def summarize(
    source: Source,
    pages: Sequence[Page],
    outputs: Outputs,
    low_confidence: float,
    review_share: float = _REVIEW_SHARE,
) -> None:
    """A markdown artifact: needs-review and why, pages, confidence, weak lines, outputs."""
    _quietly(
        create_markdown_artifact,
        summary_markdown(source, pages, outputs, low_confidence, review_share),
        key=artifact_key("document", source),
        description=f"OCR summary of {source.name}",
    )


def artifact_key(kind: str, source: Source) -> str:
    """'document-invoice-2024-pdf-8b85d2c3': found in the UI by the file's name; the content's
    hash keeps two files of one name apart (keys allow lowercase letters, digits, dashes)."""
    name = re.sub(r"[^a-z0-9]+", "-", source.name.lower()).strip("-")[:60] or "file"
    return f"{kind}-{name}-{source.sha256[:8]}"


def summary_markdown(
    source: Source,
    pages: Sequence[Page],
    outputs: Outputs,
    low_confidence: float,
    review_share: float = _REVIEW_SHARE,
) -> str:
    """The summary's text (the review, a table per page, the weakest lines, the outputs)."""
    lines = [line for page in pages for line in page.lines]
    mean = sum(ln.confidence for ln in lines) / len(lines) if lines else None
    low = sorted(
        (ln.confidence, page.number, ln.text)
        for page in pages
        for ln in page.lines
        if ln.confidence < low_confidence
    )
    text = [
        f"# {source.name}",
        "",
        *_review_markdown(review(pages, low_confidence, review_share)),
        "",
        f"{len(pages)} page(s), {len(lines)} line(s), mean confidence "
        f"{'n/a' if mean is None else f'{mean:.3f}'}, {len(low)} line(s) below "
        f"{low_confidence:g}",
        "",
        "| page | method | lines | mean confidence | seconds |",
        "|---|---|---|---|---|",
    ]
    text += [
        f"| {p.number} | {p.method} | {len(p.lines)} | "
        f"{'' if p.mean_confidence is None else f'{p.mean_confidence:.3f}'} | "
        f"{p.seconds:.2f} |"
        for p in pages
    ]
    if low:
        text += ["", "## Lowest-confidence lines", ""]
        text += [
            f"- p{page} ({conf:.2f}): {_escape(line)}"
            for conf, page, line in low[:_LOW_LINES_SHOWN]
        ]
    text += ["", "## Outputs", ""] + [
        f"- {kind}: `{path}`" for kind, path in outputs.as_dict().items()
    ]
    return "\n".join(text)


def _review_markdown(checked: Review) -> list[str]:
    """Whether a person should look at the document, why, and its words' confidence."""
    verdict = (
        f"**Needs review**: {_escape('; '.join(checked.reasons))}"
        if checked.needed
        else "Needs review: no"
    )
    if checked.mean_confidence is None or checked.weakest is None:
        return [verdict]
    return [
        verdict,
        "",
        f"{checked.words} word(s), {checked.weak_words} weak, mean word confidence "
        f"{checked.mean_confidence:.3f}, weakest {checked.weakest:.3f}",
    ]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")[:200]


def _quietly(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the UI is a courtesy, the document is what matters
        log.warning("artifact not created: %s", exc)
        return None
