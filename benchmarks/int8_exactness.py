"""Are the int8 MiniLM's integer products exact on this CPU? 7-bit weights (shipped) against
8-bit ones, on real dev passages.

Exports the packaged MiniLM to ONNX once, quantizes it twice like
`corpus_scan.local_models.quantize` (per-channel int8 weights, dynamic uint8 activations):
with `reduce_range` (7-bit weights, what the scan runs) and without (8-bit, what head-6 ran).
Then runs each on the first dev passages with every `MatMulInteger` exposed, and compares
onnxruntime's int32 results with exact int64 arithmetic on the same uint8 activations and
int8 weights. Exact arithmetic is what a CPU with VNNI computes; an AVX2 CPU without it adds
pairs of uint8 x int8 products into a saturating 16-bit integer, which 8-bit weights can
overflow (2 x 255 x 128 > 32767) and 7-bit ones cannot (2 x 255 x 64 = 32640).

    HF_HUB_OFFLINE=1 python benchmarks/int8_exactness.py [--texts 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np


def _check(model_path: Path, tokenizer_path: Path, texts: list[str]) -> tuple[int, int, int]:
    """(wrong products, all products, largest error) over every MatMulInteger."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    from tokenizers import Tokenizer

    model = onnx.load(str(model_path))
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type == "MatMulInteger"]
    have = {o.name for o in model.graph.output}
    for name in dict.fromkeys(x for n in nodes for x in (n.input[0], n.input[2], n.output[0])):
        if name not in have and name not in weights:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep nodes
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.no_padding()
    tok.enable_truncation(256)
    wrong = total = worst = 0
    for enc in tok.encode_batch(texts):
        ids = np.asarray([enc.ids], dtype=np.int64)
        out = dict(zip(names, session.run(None, {"ids": ids, "mask": np.ones_like(ids)}),
                       strict=True))
        for n in nodes:
            acts = out[n.input[0]].astype(np.int64) - np.int64(out[n.input[2]])
            w = weights[n.input[1]].astype(np.int64)
            if len(n.input) > 3 and n.input[3]:
                w = w - weights[n.input[3]].astype(np.int64)
            exact = acts @ w
            got = out[n.output[0]].astype(np.int64)
            wrong += int((got != exact).sum())
            total += got.size
            worst = max(worst, int(np.abs(got - exact).max()))
    return wrong, total, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=5, help="dev passages to run (default 5)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from speed_tables import machine

    from corpus_scan.local_models import minilm_path, write_tokenizer
    from corpus_scan.local_models.quantize import _export_float, quantize_minilm
    from corpus_scan.training.data import load_dev

    texts = [e.text[:1000] for e in load_dev()][: args.texts]
    info = machine()
    print(f"machine: {info['cpu']} ({info['simd']}); {len(texts)} dev passages")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fp32 = folder / "float.onnx"
        _export_float(minilm_path(), fp32)
        write_tokenizer(minilm_path(), folder)
        for label, reduce in (("7-bit weights (shipped)", True), ("8-bit weights (head-6)", False)):
            model = quantize_minilm(fp32, folder / f"int8-{int(reduce)}.onnx", reduce)
            wrong, total, worst = _check(model, folder / "tokenizer.json", texts)
            print(f"{label:<24} {wrong:>10,} of {total:,} int32 products differ from exact "
                  f"arithmetic (largest error {worst:,})")


if __name__ == "__main__":
    main()
