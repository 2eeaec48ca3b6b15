"""Tesseract through its C API (libtesseract, via ctypes), in a process of its own: the model
loaded once and every page read warm, as our worker reads them.

`python -m bench.tesseract` speaks `bench.serve`'s protocol. Pages are read with page
segmentation mode 1 (automatic, with orientation and script detection), so pages scanned
sideways or upside down are turned as ours are; its threads are set by OMP_THREAD_LIMIT, which
the bench sets to our engine's thread count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time
from typing import Any, TextIO

import numpy as np
from PIL import Image

from bench.serve import replies, serve

PSM_AUTO_OSD = 1
_P, _S, _I = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int


def library() -> ctypes.CDLL | None:
    """libtesseract, or None when it is not installed."""
    name = ctypes.util.find_library("tesseract")
    return ctypes.CDLL(name) if name else None


class TessApi:
    """One initialised TessBaseAPI for English."""

    def __init__(self, lib: ctypes.CDLL, psm: int = PSM_AUTO_OSD) -> None:
        for fn, args, result in (
            ("TessBaseAPICreate", [], _P),
            ("TessBaseAPIInit3", [_P, _S, _S], _I),
            ("TessBaseAPISetPageSegMode", [_P, _I], None),
            ("TessBaseAPISetImage", [_P, _S, _I, _I, _I, _I], None),
            ("TessBaseAPISetSourceResolution", [_P, _I], None),
            ("TessBaseAPIGetUTF8Text", [_P], _P),
            ("TessDeleteText", [_P], None),
            ("TessVersion", [], _S),
        ):
            getattr(lib, fn).argtypes, getattr(lib, fn).restype = args, result
        self._lib, self._api = lib, lib.TessBaseAPICreate()
        if lib.TessBaseAPIInit3(self._api, None, b"eng") != 0:
            raise RuntimeError("Tesseract could not load its English model")
        lib.TessBaseAPISetPageSegMode(self._api, psm)
        self.version = str(lib.TessVersion().decode())

    def read(self, image: np.ndarray, dpi: float | None) -> str:
        """The text of a gray (H x W) or RGB (H x W x 3) uint8 page (`dpi`: as the file
        records it; None lets Tesseract estimate it from the text, as its CLI does)."""
        image = np.ascontiguousarray(image)
        depth = 1 if image.ndim == 2 else 3
        lib, api = self._lib, self._api
        lib.TessBaseAPISetImage(
            api, image.tobytes(), image.shape[1], image.shape[0], depth, image.shape[1] * depth
        )
        if dpi:
            lib.TessBaseAPISetSourceResolution(api, round(dpi))
        text = lib.TessBaseAPIGetUTF8Text(api)
        try:
            return ctypes.string_at(text).decode("utf-8", errors="replace")
        finally:
            lib.TessDeleteText(text)


def main() -> int:
    """Serve requests from stdin until it closes."""
    out, started = replies(), time.perf_counter()
    lib = library()
    if lib is None:
        raise SystemExit("libtesseract not found (apt-get install tesseract-ocr)")
    api = TessApi(lib)

    def handle(request: dict[str, Any], out: TextIO) -> dict[str, Any]:
        item = request["read"]
        begun = time.perf_counter()
        with Image.open(item["path"]) as img:  # as tasks.ocr.load_raster does for ours
            raster = np.asarray(img.convert("L" if img.mode in ("1", "L") else "RGB"))
            dpi = img.info.get("dpi", (0,))[0]
        text = api.read(raster, float(dpi) if dpi else None)
        return {"name": item["name"], "text": text, "seconds": time.perf_counter() - begun}

    engine = {"name": "tesseract", "version": f"{api.version} (C API, --psm 1)", "models": {}}
    return serve(out, engine, started, handle)


if __name__ == "__main__":
    sys.exit(main())
