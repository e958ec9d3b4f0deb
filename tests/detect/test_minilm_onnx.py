"""The int8 MiniLM backend: close to float32, independent of batching, rebuilt identically,
and loaded without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_minilm_numpy import TEXTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8_dir() -> Path:
    from corpus_scan.local_models.quantize import ensure_minilm_int8

    return ensure_minilm_int8()


def test_int8_is_close_to_float32(int8_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus_scan.detect.embed import MiniLMEmbedder

    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "numpy")
    exact = MiniLMEmbedder(device="cpu").encode(TEXTS)
    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "int8")
    int8 = MiniLMEmbedder(device="cpu")
    meta = json.loads((int8_dir / "meta.json").read_text())
    assert int8.backend == "int8"
    assert int8.version.endswith(f"-minilm-int8-3-{meta['model_sha256'][:12]}")
    got = int8.encode(TEXTS)
    assert got.shape == exact.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosine = (got * exact).sum(1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.985, cosine
    # quantization does not confuse texts: each is nearest to its own float32 vector
    assert (np.argmax(got @ exact.T, axis=1) == np.arange(len(TEXTS))).all()


def _matmul_integer(weights: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """onnxruntime's uint8 x int8 MatMulInteger, the product the int8 MiniLM runs."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    (m, k), n = acts.shape, weights.shape[1]
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "W"], ["Y"])], "g",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [m, n])],
        [helper.make_tensor("W", TensorProto.INT8, [k, n], weights.tobytes(), raw=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"A": acts})[0]


def test_seven_bit_weights_multiply_exactly_on_this_cpu() -> None:
    """Why the model uses 7-bit weights: the integer products must not depend on the CPU.
    With weights in [-64, 64] onnxruntime's result equals exact integer arithmetic on every
    kernel (an AVX2 one without VNNI saturates 16-bit pair sums of 8-bit weights)."""
    rng = np.random.default_rng(0)
    acts = rng.integers(0, 256, (64, 384), dtype=np.uint8)
    weights = rng.integers(-64, 65, (384, 512), dtype=np.int8)
    exact = acts.astype(np.int64) @ weights.astype(np.int64)
    assert np.array_equal(_matmul_integer(weights, acts).astype(np.int64), exact)


def test_the_built_model_has_seven_bit_weights(int8_dir: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(int8_dir / "model.onnx"))
    int8_weights = [numpy_helper.to_array(t) for t in model.graph.initializer
                    if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 36  # 6 layers x (q, k, v, out, up, down)
    assert min(int(w.min()) for w in int8_weights) >= -64
    assert max(int(w.max()) for w in int8_weights) <= 64  # 2 x 255 x 64 < 2**15


def test_a_text_gets_the_same_vector_whatever_its_neighbours(int8_dir: Path) -> None:
    from corpus_scan.detect.minilm_onnx import OnnxMiniLM

    model = OnnxMiniLM(int8_dir)
    together = model.encode(TEXTS)
    for i, text in enumerate(TEXTS):
        assert np.array_equal(model.encode([text])[0], together[i])
    assert np.array_equal(model.encode(TEXTS[::-1])[::-1], together)
    assert model.encode([]).shape == (0, 384)


def test_rebuild_gives_the_same_model(int8_dir: Path, tmp_path: Path) -> None:
    from corpus_scan.local_models.quantize import build_minilm_int8

    again = build_minilm_int8(tmp_path / "int8")
    cached = json.loads((int8_dir / "meta.json").read_text())
    rebuilt = json.loads((again / "meta.json").read_text())
    assert rebuilt["model_sha256"] == cached["model_sha256"]
    assert not [p.name for p in again.iterdir() if p.name not in ("model.onnx", "tokenizer.json",
                                                                   "meta.json")]


def test_int8_backend_loads_no_torch(int8_dir: Path, tmp_path: Path) -> None:
    code = (
        "import sys; from corpus_scan.detect.embed import MiniLMEmbedder; "
        "e = MiniLMEmbedder(device='cpu'); v = e.encode(['HAL would not let them switch it off']); "
        "print(e.backend, v.shape[1], 'torch' in sys.modules)"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "CORPUS_SCAN_MINILM_BACKEND"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
        env=env,
    ).stdout.split()
    if out and out[0] == "torch":
        pytest.skip("a GPU is present: the default backend there is torch")
    assert out == ["int8", "384", "False"]


def test_detector_version_names_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus_scan.detect.scorer import CascadeScorer

    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "int8")
    a = CascadeScorer("cascade", device="cpu").version
    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "numpy")
    b = CascadeScorer("cascade", device="cpu").version
    assert a != b
    assert CascadeScorer("static", device="cpu").version == CascadeScorer(
        "static", device="cpu"
    ).version


def test_build_models_returns_both_model_folders(int8_dir: Path) -> None:
    from typer.testing import CliRunner

    from corpus_scan.cli import app
    from corpus_scan.local_models.build_models import build_models

    got = build_models()
    assert got["minilm-int8"] == int8_dir
    assert (got["static"] / "vectors.npy").exists() and (got["static"] / "meta.json").exists()
    out = CliRunner().invoke(app, ["build-models"])
    assert out.exit_code == 0, out.output
    assert f"minilm-int8: {int8_dir}" in out.output


def test_unknown_backend_is_refused_before_anything_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corpus_scan.documents import InputError
    from corpus_scan.run.scan import scan

    src = tmp_path / "one.jsonl"
    src.write_text('{"id": "a", "text": "The AI refused to be shut down."}\n')
    monkeypatch.setenv("CORPUS_SCAN_MINILM_BACKEND", "bogus")
    with pytest.raises(InputError, match="CORPUS_SCAN_MINILM_BACKEND='bogus'"):
        scan([str(src)], tmp_path / "x.duckdb")
    assert not (tmp_path / "x.duckdb").exists()
