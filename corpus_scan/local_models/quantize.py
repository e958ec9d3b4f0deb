"""Build the int8 MiniLM that the CPU scan runs: ONNX export of the packaged weights, then
dynamic int8 quantization of its matrix products (onnxruntime), offline, once per machine.

Why: the MiniLM tier is the scan's dominant cost on CPU (~110 ms per 256-token window per
core in float32). Per-channel int8 weights with uint8 activations (quantized per call) run
~3x faster on one core and keep cosine >= 0.98 to the float32 embeddings (mean 0.993 on
dev); the classifier head is trained on these int8 embeddings, so scan and training see the
same numbers.

Weights use 7 bits (`reduce_range`), so that every x86 CPU computes the same integers. On
AVX2 without VNNI onnxruntime multiplies uint8 by int8 with an instruction that adds pairs
of products into a saturating 16-bit integer: with 8-bit weights the sum can overflow
(2 x 255 x 128 > 32767) and the result depends on the CPU (head-6, built with 8-bit weights
on an AVX-512 VNNI machine, did not reproduce on an AVX2 one). With 7 bits the pair sum
is at most 2 x 255 x 64 = 32640 (weights lie in [-64, 64]), so every kernel is exact
(`tests/detect/test_minilm_onnx.py` checks this on the CPU it runs on).

The file (~59 MB: the word-embedding table stays float32) is not shipped: it is built from
the packaged MiniLM on first use (~13 s) and cached beside the static model.

Rebuild: `python -m corpus_scan.local_models.quantize [OUT_DIR]` or `build_minilm_int8(out_dir)`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

from corpus_scan.atomic import build_once, file_sha256, write_atomic
from corpus_scan.local_models import (
    cache_dir,
    minilm_path,
    quiet_hf_loading,
    source_sha256,
    write_tokenizer,
)

QUANT_VERSION = "minilm-int8-3"
OPSET = 17
FILES = ("model.onnx", "tokenizer.json", "meta.json")


def _export_float(src: Path, target: Path) -> None:
    """float32 ONNX graph: ids, mask (int64, batch x tokens) -> mean-pooled L2-normalised."""
    import torch
    from transformers import AutoModel

    quiet_hf_loading()
    # eager attention exports as plain MatMul/Softmax, which onnxruntime runs ~1.2x faster per
    # window than the exported scaled-dot-product-attention graph (same embeddings)
    model = AutoModel.from_pretrained(
        str(src), local_files_only=True, attn_implementation="eager"
    ).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    example = (torch.ones((1, 8), dtype=torch.long), torch.ones((1, 8), dtype=torch.long))
    axes = {"ids": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            example,
            str(target),
            input_names=["ids", "mask"],
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency
        )


def quantize_minilm(fp32: Path, out: Path, reduce_range: bool = True) -> Path:
    """The recipe's dynamic int8 quantization of the float ONNX graph `fp32` into `out`.
    `reduce_range=False` gives the 8-bit weights of head-6 (`benchmarks/int8_exactness.py`)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # its "consider pre-processing" warning
    try:
        quantize_dynamic(
            str(fp32),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,  # one scale per output column: cosine 0.995 vs 0.945
            reduce_range=reduce_range,  # 7-bit weights: exact on every x86 kernel (module doc)
            op_types_to_quantize=["MatMul"],  # embeddings, softmax and norms stay float
        )
    finally:
        root.setLevel(level)
    return out


def build_minilm_int8(out_dir: str | Path) -> Path:
    """Export and quantize MiniLM into `out_dir` (model.onnx, tokenizer.json, meta.json)."""
    import onnxruntime

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = minilm_path()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        fp32, int8 = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        _export_float(src, fp32)
        quantize_minilm(fp32, int8)
        write_atomic(out / "model.onnx", int8.read_bytes())
    write_tokenizer(src, out)
    meta = {
        "quant_version": QUANT_VERSION,
        "source_weights_sha256": source_sha256(src),
        "model_sha256": file_sha256(out / "model.onnx")[1],
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_atomic(out / "meta.json", json.dumps(meta, indent=2).encode())  # last: marks complete
    return out


def minilm_int8_dir() -> Path:
    """Where the int8 model of this recipe version lives in the user cache."""
    return cache_dir() / QUANT_VERSION


def ensure_minilm_int8(out_dir: str | Path | None = None) -> Path:
    """The int8 model folder, built first if missing (once per machine; concurrent callers
    wait on a file lock)."""
    out = Path(out_dir) if out_dir else minilm_int8_dir()
    return build_once(out, FILES, build_minilm_int8)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else minilm_int8_dir()
    print(build_minilm_int8(target))
