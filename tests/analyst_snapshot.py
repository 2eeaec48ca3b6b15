"""A small, real analysts' snapshot: documents, pages, lines, attempts and files written through
the real `Store` and the statements the pipeline uses, then published as the snapshot.

What it holds (thresholds 0.8 and 0.1, as the settings' defaults):
- april/invoice.pdf, done, needs review: a weak word ('CO', 0.27) hides in a line whose other
  words are sure; its page 2 came out of a MuPDF repair; its ocr task was retried once;
- letter.png, done, every word sure; blank.png, done with no text (needs review);
- broken.pdf, failed (corrupt_file); copy/invoice.pdf, a duplicate arrival of the invoice;
- a file refused before it could be read (no sha256).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.values import EngineInfo, InboxFile, Line, Outputs, Page, Source, Word
from store import schema
from store.db import Attempt, Store
from store.placement import file_row

ENGINE = EngineInfo("onnx", "1.0", {"det": "ppocrv6-det", "rec": "ppocrv6-rec"})
LOW, SHARE = 0.8, 0.1
T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def source(folder: Path, name: str, pages: int) -> Source:
    sha = hashlib.sha256(name.encode()).hexdigest()
    return Source(folder / name, name, sha, Path(name).suffix.lstrip(".") or "png", 1000, pages)


def word(text: str, confidence: float, x: float) -> Word:
    return Word(text, confidence, (x, 72.0, x + 10.0 * len(text), 86.0))


def line(y: float, *words: Word) -> Line:
    box = (words[0].box[0], y, words[-1].box[2], y + 14.0)
    return Line(" ".join(w.text for w in words), min(w.confidence for w in words), box, words)


INVOICE_PAGES = (
    Page(
        1,
        595.0,
        842.0,
        "ocr",
        dpi=300.0,
        seconds=1.2,
        lines=(
            line(72.0, word("Invoice", 0.98, 72.0), word("42", 0.92, 150.0)),
            line(
                100.0,
                word("PLEASE", 0.97, 72.0),
                word("CO", 0.27, 140.0),
                word("E", 0.85, 170.0),
                word("AGAI!", 0.9, 190.0),
            ),
        ),
    ),
    Page(
        2,
        595.0,
        842.0,
        "text",
        repaired=True,
        lines=(Line("Terms of payment", 1.0, (72.0, 72.0, 190.0, 86.0)),),
    ),
)
LETTER_PAGES = (
    Page(1, 612.0, 792.0, "ocr", dpi=200.0, lines=(line(72.0, word("Dear", 0.99, 72.0)),)),
)
BLANK_PAGES = (Page(1, 595.0, 842.0, "ocr", dpi=300.0),)


def build(store: Store, folder: Path) -> dict[str, Source]:
    """Write everything listed in the module's docstring; publish the snapshot."""
    docs = {
        "invoice": source(folder, "invoice.pdf", 2),
        "letter": source(folder, "letter.png", 1),
        "blank": source(folder, "blank.png", 1),
        "broken": source(folder, "broken.pdf", 0),
    }
    done = {"invoice": INVOICE_PAGES, "letter": LETTER_PAGES, "blank": BLANK_PAGES}
    for key, src in docs.items():
        relative = f"april/{src.name}" if key == "invoice" else src.name
        store.start_document(src, flow_run_id=f"run-{key}", relative_path=relative)
        if key in done:
            outputs = Outputs.for_source(folder / "output", src)
            store.finish_document(
                src,
                done[key],
                outputs,
                ENGINE,
                status="done",
                flow_run_id=f"run-{key}",
                low_confidence=LOW,
                review_share=SHARE,
            )
        else:
            store.finish_document(
                src,
                [],
                None,
                None,
                status="failed",
                error_type="corrupt_file",
                error_message="PDF trailer missing",
                flow_run_id=f"run-{key}",
            )
    store.record_attempts(attempts(docs))
    place_files(store, folder, docs)
    store.publish_snapshot(force=True)
    return docs


def attempts(docs: dict[str, Source]) -> list[Attempt]:
    invoice = docs["invoice"]

    def attempt(name: str, n: int, state: str, run: str, **extra: Any) -> Attempt:
        start = T0 + timedelta(seconds=10 * n)
        return Attempt(
            name,
            n,
            start,
            start + timedelta(seconds=2),
            state,
            sha256=invoice.sha256,
            flow_run_id="run-invoice",
            task_run_id=run,
            **extra,
        )

    return [
        attempt("ocr", 1, "FAILED", "t-ocr", error_type="engine", error_message="out of memory"),
        attempt("ocr", 2, "COMPLETED", "t-ocr"),
        attempt("record", 1, "COMPLETED", "t-record"),
    ]


def place_files(store: Store, folder: Path, docs: dict[str, Source]) -> None:
    """Arrivals as the watcher claims and places them (schema.CLAIM_FILE, schema.PLACE_FILE)."""
    invoice, broken = docs["invoice"], docs["broken"]
    arrivals = [
        (
            InboxFile("c1/april/invoice.pdf", "p/1", "april/invoice.pdf", invoice.sha256, 1000),
            "processed",
            None,
            None,
            "run-invoice",
        ),
        (
            InboxFile("c2/copy/invoice.pdf", "p/2", "copy/invoice.pdf", invoice.sha256, 1000),
            "duplicate",
            invoice.doc_id,
            None,
            None,
        ),
        (
            InboxFile("c3/broken.pdf", "p/3", "broken.pdf", broken.sha256, 1000),
            "failed",
            None,
            "corrupt_file",
            "run-broken",
        ),
        (
            InboxFile("c4-refused/odd.lnk", "", "odd.lnk", "", 0),
            "failed",
            None,
            "unsupported_file",
            None,
        ),
    ]
    store.write(
        schema.CLAIM_FILE,
        [
            (f.file_id, f.relative_path, f.sha256 or None, f.size or None, f.path, run, T0, T0)
            for f, status, _, _, run in arrivals
            if f.sha256
        ],
    )
    store.write(
        schema.PLACE_FILE,
        [
            file_row(
                f,
                status,
                folder / status / f.relative_path,
                T0 + timedelta(minutes=1),
                duplicate_of=dup,
                error_type=error,
                message=error and "why",
                run=run,
            )
            for f, status, dup, error, run in arrivals
        ],
    )
