"""MiniLM-tier throughput on a GPU (or the CPU): windows/s of the scan's own embedder.

    python benchmarks/minilm_gpu.py                 # cuda if torch sees one, else cpu
    python benchmarks/minilm_gpu.py --device cpu

Windows are our own training texts (`training_data/`, written by the corpus-scan team) joined
to the mean passage length of a scan (~810 characters), so the script needs nothing outside the
repository. On CUDA it times `MiniLMEmbedder(device="cuda")` as a scan uses it (float32
sentence-transformers, batches of 256) and the same model cast to float16, and reports the
largest difference between the two (cosine of the normalised vectors).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def windows(n: int, chars: int = 810) -> list[str]:
    texts = []
    for name in ("positives.jsonl", "hard_negatives.jsonl"):
        with (ROOT / "training_data" / name).open(encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    out, cur, i = [], "", 0
    while len(out) < n:
        cur = (cur + " " + texts[i % len(texts)]).strip()
        i += 1
        if len(cur) >= chars:
            out.append(cur[:chars])
            cur = ""
    return out


def rate(encode, texts: list[str], repeat: int = 3) -> tuple[float, np.ndarray]:
    vecs = encode(texts[:64])  # warm-up: kernels, allocator, tokenizer
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        vecs = encode(texts)
        best = min(best, time.perf_counter() - t)
    return len(texts) / best, vecs


def main() -> None:
    from corpus_scan.detect.embed import MiniLMEmbedder, resolve_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("-n", type=int, default=0, help="windows (default 8192 on GPU, 256 on CPU)")
    a = ap.parse_args()
    device = resolve_device(a.device)
    n = a.n or (8192 if device.startswith("cuda") else 256)
    texts = windows(n)
    emb = MiniLMEmbedder(device=device)
    r, v32 = rate(emb.encode, texts)
    print(f"device={device} backend={emb.backend} windows={n} mean_chars="
          f"{sum(map(len, texts)) / n:.0f}")
    print(f"minilm {emb.backend:<6} {r:10.1f} windows/s")
    if device.startswith("cuda"):
        import torch

        print(f"gpu: {torch.cuda.get_device_name(0)}")
        emb._model.half()
        r16, v16 = rate(emb.encode, texts)
        cos = float(np.min(np.sum(v32 * v16, axis=1)))
        print(f"minilm fp16   {r16:10.1f} windows/s  (min cosine to float32: {cos:.5f})")


if __name__ == "__main__":
    main()
