"""Distil a static (model2vec-style) embedding model from the packaged MiniLM, offline.

`model2vec.distill` needs the optional `skeletoken` package (the `model2vec[distill]` extra),
which is not installed, so this module re-implements the same recipe with torch +
transformers only: every vocabulary token is run through MiniLM as `[CLS] tok [SEP]`,
mean-pooled, Zipf/SIF-weighted, PCA-reduced (deterministic eigendecomposition with a fixed
sign convention) and saved as `vectors.npy` + `tokenizer.json`. `embed.StaticEmbedder` wraps
the result in `model2vec.StaticModel` for inference. Nothing is downloaded.

Rebuild: `python -m corpus_scan.local_models.distill [OUT_DIR]` or `build_static_model(out_dir)`.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import numpy as np

from corpus_scan.atomic import build_once, write_atomic
from corpus_scan.local_models import (
    cache_dir,
    minilm_path,
    quiet_hf_loading,
    source_sha256,
    write_tokenizer,
)

DISTILL_VERSION = "m2v-minilm-1"
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
_BATCH = 512


def static_model_dir() -> Path:
    """Where the static model of this recipe version lives in the user cache."""
    return cache_dir() / DISTILL_VERSION


def _token_embeddings(model_dir: Path, device: str) -> np.ndarray:
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    quiet_hf_loading()
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    vocab_size = tok.get_vocab_size()
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).to(device).eval()
    out = np.zeros((vocab_size, model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for lo in range(0, vocab_size, _BATCH):
            ids = torch.arange(lo, min(lo + _BATCH, vocab_size), dtype=torch.long)
            n = len(ids)
            inp = torch.stack(
                [torch.full((n,), cls_id), ids, torch.full((n,), sep_id)], dim=1
            ).to(device)
            hidden = model(
                input_ids=inp,
                attention_mask=torch.ones_like(inp),
                token_type_ids=torch.zeros_like(inp),
            ).last_hidden_state
            out[lo : lo + n] = hidden.mean(dim=1).float().cpu().numpy()
    return np.nan_to_num(out)


def _sif_weights(n: int) -> np.ndarray:
    inv_rank = 1.0 / np.arange(2, n + 2)
    proba = inv_rank / inv_rank.sum()
    return SIF_COEFFICIENT / (SIF_COEFFICIENT + proba)


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    x64 = x.astype(np.float64)
    xc = x64 - x64.mean(axis=0)
    cov = xc.T @ xc / (len(xc) - 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:dims]
    vecs = vecs[:, order]
    # fixed sign convention so rebuilds on other BLAS builds give the same axes
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(vecs.shape[1])])
    return (xc @ (vecs * signs)).astype(np.float32)


def build_static_model(out_dir: str | Path, device: str = "cpu") -> Path:
    """Distil MiniLM into a static model in `out_dir` (vectors.npy, tokenizer.json, meta.json)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    src = minilm_path()
    t0 = time.perf_counter()
    emb = _token_embeddings(src, device)
    emb = _pca(emb, PCA_DIMS) * _sif_weights(len(emb))[:, None].astype(np.float32)
    vectors = io.BytesIO()
    np.save(vectors, emb.astype(np.float32))
    write_atomic(out / "vectors.npy", vectors.getvalue())
    write_tokenizer(src, out)
    meta = {
        "distill_version": DISTILL_VERSION,
        "pca_dims": PCA_DIMS,
        "sif_coefficient": SIF_COEFFICIENT,
        "source_weights_sha256": source_sha256(src),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_atomic(out / "meta.json", json.dumps(meta, indent=2).encode())  # last: marks complete
    return out


def ensure_static_model(out_dir: str | Path | None = None) -> Path:
    """The static model folder, built first if it is missing (once per machine, ~20-85 s;
    concurrent callers wait on a file lock, see `atomic.build_once`)."""
    out = Path(out_dir) if out_dir else static_model_dir()
    return build_once(out, ("vectors.npy", "tokenizer.json", "meta.json"), build_static_model)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else static_model_dir()
    print(build_static_model(target))
