"""What the hot folder is measured against, on the same files: the raw engine loop, and OCRmyPDF.

The raw engine loop is the engine alone at its default settings: one process, the model loaded
once, every page rendered (PyMuPDF for PDFs at the pipeline's dpi, Pillow for images, EXIF
orientation applied) and read, nothing written. OCRmyPDF gets its best settings here: both cores
(`-j 2`), orientation detection (`--rotate-pages`, as our engine turns pages), plain PDF output
(no PDF/A conversion) and no optimisation pass, one file after another as a user would run it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image, ImageOps

OCRMYPDF = [
    "ocrmypdf",
    "-j",
    "2",
    "--output-type",
    "pdf",
    "--rotate-pages",
    "--optimize",
    "0",
    "--quiet",
]


def rasters(path: Path, dpi: int = 300) -> Iterator[np.ndarray]:
    """Each page of `path` as the engine takes it (RGB or gray)."""
    if path.suffix.lower() == ".pdf":
        with pymupdf.open(path) as doc:
            for page in doc:
                pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB)
                yield np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)
        return
    with Image.open(path) as img:
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            frame = ImageOps.exif_transpose(img)
            yield np.asarray(frame.convert("L" if frame.mode in ("1", "L") else "RGB"))


def raw_engine(files: list[Path]) -> tuple[float, dict[Path, float]]:
    """(seconds for all pages, seconds per file) of the engine alone, model loaded once."""
    from core.settings import Settings
    from engine import get_engine
    from tasks.ocr import engine_config

    engine = get_engine(engine_config(Settings()))
    engine.read(next(rasters(files[0])))  # warm: what a running service has paid already
    per_file: dict[Path, float] = {}
    started = time.perf_counter()
    for path in files:
        begun = time.perf_counter()
        for raster in rasters(path):
            engine.read(raster)
        per_file[path] = time.perf_counter() - begun
    return time.perf_counter() - started, per_file


def ocrmypdf_available() -> bool:
    return shutil.which("ocrmypdf") is not None


def ocrmypdf(files: list[Path]) -> float:
    """Seconds for OCRmyPDF to make a searchable PDF of each file, one after another."""
    with tempfile.TemporaryDirectory(prefix="bench-ocrmypdf-") as out:
        started = time.perf_counter()
        for n, path in enumerate(files):
            subprocess.run(
                [*OCRMYPDF, str(path), str(Path(out) / f"{n}.pdf")],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return time.perf_counter() - started
