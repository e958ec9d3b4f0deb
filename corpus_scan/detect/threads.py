"""How many CPU threads a model's kernels may use (torch, onnxruntime, BLAS): one rule for
every MiniLM backend."""

from __future__ import annotations

import multiprocessing as mp
import os


def cpu_threads() -> int | None:
    """`$CORPUS_SCAN_TORCH_THREADS` if set; else 1 inside a worker process (several workers
    share the cores); else None: the library's own default in the main process."""
    env = os.environ.get("CORPUS_SCAN_TORCH_THREADS")
    if env:
        return max(1, int(env))
    return 1 if mp.parent_process() is not None else None
