"""all-MiniLM-L6-v2 forward pass in numpy: the exact float32 CPU backend of the MiniLM tier
(`CORPUS_SCAN_MINILM_BACKEND=numpy`; the default on CPU is the int8 `minilm_onnx`).

Same weights (the packaged safetensors), same tokenizer (`tokenizer.json`, truncation at
`max_seq_length` word pieces), same maths as sentence-transformers (BERT encoder, mean pooling
over the attention mask, L2 normalisation); embeddings agree with it to ~1e-6 (tested).

Why not torch on CPU: importing torch and sentence-transformers costs ~2 s of CPU in every
worker process, more than the MiniLM tier spends on a typical shard, and torch's OpenMP pool
does not survive a fork, so workers would have to be spawned. numpy is already loaded, the
weights are memory-mapped, and per window it is as fast as torch on one thread (BLAS does the
matmuls). Texts are sorted by length and batched so padding stays small.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

_ERF = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429, 0.3275911)


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT uses; erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7).
    In place where possible: this runs on (tokens x 1536) arrays, and temporaries dominate."""
    a1, a2, a3, a4, a5, p = (np.float32(c) for c in _ERF)
    z = np.abs(x)
    z *= np.float32(1 / math.sqrt(2))
    t = z * p
    t += 1
    np.reciprocal(t, out=t)
    poly = t * a5
    for a in (a4, a3, a2, a1):
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # = 1 - erf(|x| / sqrt 2)
    out = np.where(x >= 0, 2 - poly, poly)  # = 1 + erf(x / sqrt 2)
    out *= x
    out *= np.float32(0.5)
    return out


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class NumpyMiniLM:
    """`encode(texts) -> float32 (n, 384)`, L2-normalised; one thread of BLAS per call in a
    worker process (see `encode`)."""

    def __init__(self, model_dir: str | Path, max_seq_length: int = 256, batch_tokens: int = 1024):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        cfg = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.dim = int(cfg["hidden_size"])
        self.max_seq_length = max_seq_length
        self.batch_tokens = batch_tokens
        w = load_file(str(model_dir / "model.safetensors"))
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = w["embeddings.position_embeddings.weight"]
        self.type0 = w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            )
            qkv_b = np.concatenate(
                [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self.layers.append(
                (
                    np.ascontiguousarray(qkv_w.T),
                    qkv_b,
                    np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    w[p + "attention.output.dense.bias"],
                    (
                        w[p + "attention.output.LayerNorm.weight"],
                        w[p + "attention.output.LayerNorm.bias"],
                    ),
                    np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    w[p + "intermediate.dense.bias"],
                    np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    w[p + "output.dense.bias"],
                    (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_seq_length)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with _one_blas_thread_in_workers():
            start = 0
            while start < len(order):
                longest = len(ids[order[min(len(order) - 1, start)]])
                end = start + 1
                # grow the batch while its padded size stays under batch_tokens
                while (
                    end < len(order)
                    and len(ids[order[end]]) * (end - start + 1) <= self.batch_tokens
                ):
                    end += 1
                rows = order[start:end]
                longest = len(ids[rows[-1]])
                batch = np.zeros((len(rows), longest), np.int64)
                mask = np.zeros((len(rows), longest), np.float32)
                for r, i in enumerate(rows):
                    batch[r, : len(ids[i])] = ids[i]
                    mask[r, : len(ids[i])] = 1.0
                out[rows] = self._forward(batch, mask)
                start = end
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        b, s = ids.shape
        h, d = self.heads, self.dim // self.heads
        x = self.word[ids] + self.pos[:s] + self.type0
        x = _layer_norm(x, *self.ln0, self.eps).reshape(b * s, self.dim)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # padded keys get no weight
        scale = np.float32(1 / math.sqrt(d))
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self.layers:
            qkv = (x @ qkv_w + qkv_b).reshape(b, s, 3, h, d).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]  # (b, h, s, d)
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b * s, self.dim)
            x = _layer_norm(x + (ctx @ o_w + o_b), *ln1, self.eps)
            x = _layer_norm(x + (_gelu(x @ i_w + i_b) @ f_w + f_b), *ln2, self.eps)
        x = x.reshape(b, s, self.dim)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norm, 1e-12)).astype(np.float32)


class _one_blas_thread_in_workers:  # noqa: N801 - used as a context manager
    """BLAS threads by `threads.cpu_threads` (one per worker process; the main process keeps
    BLAS's default)."""

    def __enter__(self) -> None:
        from corpus_scan.detect.threads import cpu_threads

        self._limits = None
        n = cpu_threads()
        if n is not None:
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=n, user_api="blas")

    def __exit__(self, *exc: object) -> None:
        if self._limits is not None:
            self._limits.restore_original_limits()
