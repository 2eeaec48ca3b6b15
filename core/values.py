"""Frozen values passed between tasks.

Coordinates: every box is (x0, y0, x1, y1) in PDF points (1/72 inch) on the page as displayed
(rotation applied), origin at the top-left corner, y growing downwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Box = tuple[float, float, float, float]
PageMethod = Literal["ocr", "text"]


@dataclass(frozen=True)
class Word:
    """One recognised word."""

    text: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class Line:
    """One text line; `words` is empty when the engine gave no word boxes."""

    text: str
    confidence: float
    box: Box
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Source:
    """A file accepted for processing, identified by its content."""

    path: Path
    name: str
    sha256: str
    kind: str  # png, jpeg, tiff, bmp, webp, gif, jp2, pdf
    size: int
    page_count: int

    @property
    def doc_id(self) -> str:
        """The DuckDB document key: 'doc-' and the first 16 hex digits of the content hash.

        Text, never a number: a 64-bit integer loses digits in JavaScript and Excel, and Excel
        would still read a key made only of digits as a number."""
        return f"doc-{self.sha256[:16]}"

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass(frozen=True)
class InboxFile:
    """A file claimed from the hot folder: where it lies now and where it was dropped."""

    file_id: str  # '<claim id>/<relative path>', unique per arrival
    path: str  # under processing/
    relative_path: str  # relative to the inbox, '/'-separated
    sha256: str
    size: int


@dataclass(frozen=True)
class Page:
    """One page: its size, its raster (when OCR is needed) and, once read, its lines.

    `method` is "text" when the lines come from the PDF's own text layer (no OCR, no raster
    needed), "ocr" when they come from the engine.
    """

    number: int  # 1-based
    width: float  # points
    height: float  # points
    method: PageMethod
    image_path: Path | None = None
    dpi: float | None = None
    lines: tuple[Line, ...] = ()
    seconds: float = 0.0
    # Degrees counter-clockwise the raster was turned to read it upright; image_path, width
    # and height are then the upright page's.
    rotation: int = 0
    # The PDF was damaged and MuPDF rebuilt its structure to read it; this page came out of
    # the repair with real content (a repair that gives none is refused as corrupt).
    repaired: bool = False

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def mean_confidence(self) -> float | None:
        if not self.lines:
            return None
        return sum(line.confidence for line in self.lines) / len(self.lines)


@dataclass(frozen=True)
class Outputs:
    """Where one document's results were written."""

    pdf: Path
    xlsx: Path
    json: Path
    txt: Path

    @classmethod
    def for_source(cls, root: Path, source: Source) -> Outputs:
        """The four outputs of `source` under `root`, in a folder named after file and content."""
        folder = root / f"{source.stem}-{source.sha256[:8]}"
        return cls(*(folder / f"{source.stem}.{ext}" for ext in ("pdf", "xlsx", "json", "txt")))

    def as_dict(self) -> dict[str, str]:
        return {
            "pdf": str(self.pdf),
            "xlsx": str(self.xlsx),
            "json": str(self.json),
            "txt": str(self.txt),
        }


@dataclass(frozen=True)
class EngineInfo:
    """Which engine and models produced the text."""

    name: str
    version: str
    models: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Review:
    """A document's confidence as its words tell it, and whether a person should look at it.

    Confidence is per word (a word is only as sure as its least sure character), so one weak
    word is not hidden by a long line of sure ones. `reasons` is empty when no review is needed.
    """

    words: int
    weak_words: int  # below the low-confidence threshold
    mean_confidence: float | None  # over words
    weakest: float | None
    reasons: tuple[str, ...]

    @property
    def needed(self) -> bool:
        return bool(self.reasons)


def review(pages: Sequence[Page], low_confidence: float, weak_share: float) -> Review:
    """Flag a document with no text at all, or with more than `weak_share` of its words below
    `low_confidence`."""
    confidences = [w.confidence for page in pages for line in page.lines for w in words_of(line)]
    weak = sum(c < low_confidence for c in confidences)
    reasons: list[str] = []
    if not confidences:
        reasons.append("no text found")
    elif weak > weak_share * len(confidences):
        reasons.append(
            f"{weak} of {len(confidences)} words read with confidence below {low_confidence:g}"
        )
    return Review(
        len(confidences),
        weak,
        sum(confidences) / len(confidences) if confidences else None,
        min(confidences, default=None),
        tuple(reasons),
    )


def words_of(line: Line) -> tuple[Word, ...]:
    """The line's words, or the whole line as one word when the engine gave no word boxes."""
    return line.words or (Word(line.text, line.confidence, line.box),)
