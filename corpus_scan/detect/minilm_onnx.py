"""The int8 MiniLM (`local_models.quantize`) run by onnxruntime: the default CPU backend of the
MiniLM tier, ~3x the float32 numpy forward pass per core.

Each text runs alone (batch of one, no padding): dynamic quantization picks its activation
scales per call, so batching texts together would make a passage's embedding depend on its
neighbours in the batch, and hence on batch size and worker count. Alone, a text always gets
the same vector, and on one core batching buys nothing here (measured on the first export:
26.6 windows/s alone, 24.8 in batches of 1,024 tokens).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corpus_scan.detect.threads import cpu_threads


class OnnxMiniLM:
    """`encode(texts) -> float32 (n, 384)`, L2-normalised, at most `max_seq_length` tokens."""

    def __init__(self, model_dir: str | Path, max_seq_length: int = 256) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = cpu_threads() or 0  # 0: onnxruntime picks (all cores)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 384)
        self.max_seq_length = max_seq_length
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, enc in enumerate(self.tokenizer.encode_batch(list(texts))):
            ids = np.asarray([enc.ids], dtype=np.int64)
            out[row] = self._session.run(None, {"ids": ids, "mask": np.ones_like(ids)})[0][0]
        return out
