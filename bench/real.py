"""Real scans with ground truth: by default the development set in
`../shared/corpus/accuracy-dev` (receipts, forms and paper pages), each kind scored by its own
conventions (the corpus README): receipts' transcripts are all upper case, so they are compared
without case; forms and two-column pages have no reading order, so word F1 and the order-free
CER are the measures that mean something there; NFKC on both sides (`bench.metrics`).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from bench.engines import ROOT, Scan

DEV_SET = ROOT.parent / "shared" / "corpus" / "accuracy-dev"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
REAL_DPI = 300.0  # the pipeline's TOOL_OCR_IMAGE_DPI default, for scans without dpi metadata
KINDS = {"sroie": "receipts", "funsd": "forms", "docbank": "papers"}  # by file name prefix
CASELESS = {"receipts"}  # kinds whose ground truth has lost its case
# Issue 14's targets: our word F1 at least Tesseract's plus this, per kind.
F1_MARGIN = {"receipts": 0.05, "forms": 0.05, "papers": 0.01}


def kind_of(name: str) -> str:
    """The kind of a real scan from its file name (`sroie_015.jpg` is a receipt)."""
    return KINDS.get(name.split("_")[0].lower(), "real")


def truth_of(path: Path) -> Path | None:
    """`<stem>.gt.txt` or `<stem>.txt` beside an image, if there is one."""
    for truth in (path.with_name(f"{path.stem}.gt.txt"), path.with_suffix(".txt")):
        if truth.is_file():
            return truth
    return None


def real_scans(folder: Path, work: Path) -> list[Scan]:
    """Images in `folder` with a ground truth beside them (EXIF orientation applied, as the
    pipeline's render step does; multi-page files: first page only)."""
    scans = []
    for path in sorted(folder.iterdir()):
        truth = truth_of(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES or truth is None:
            continue
        with Image.open(path) as img:
            dpi = float(img.info.get("dpi", (REAL_DPI,))[0] or REAL_DPI)
            upright = ImageOps.exif_transpose(img)
            if upright is not img:
                work.mkdir(parents=True, exist_ok=True)
                path = work / f"{path.stem}.png"
                upright.save(path, dpi=(dpi, dpi))
        scans.append(Scan(path.stem, kind_of(path.name), path, dpi, truth.read_text("utf-8")))
    if not scans:
        raise SystemExit(f"{folder}: no image with a <name>.gt.txt or <name>.txt beside it")
    return scans


def comparable(family: str, text: str) -> str:
    """`text` as it is scored for `family` (lower case where the truth lost its case)."""
    return text.lower() if family in CASELESS else text
