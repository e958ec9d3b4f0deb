"""What reading every document for meaning would cost: MiniLM's WordPiece tokenizer alone over
`../shared/corpora/web-jsonl`, one thread, fastest of N runs.

    python benchmarks/tokenizer_cost.py [--repeat 3]

Tokenising is the first step of any embedding pass (static or transformer), so its rate bounds
a detector that embeds every document instead of only the prefilter's candidates. Compare with
the default cascade's MB/s per core in `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "web-jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=WEB, help="folder of *.jsonl.gz")
    args = ap.parse_args()
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core, as one scan worker would use
    from tokenizers import Tokenizer

    from corpus_scan.local_models import minilm_path

    files = sorted(args.corpus.glob("*.jsonl.gz"))
    if not files:
        raise SystemExit(f"{args.corpus}: no *.jsonl.gz files")
    texts = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["text"] for line in fh if line.strip()]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    tok = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    best = float("inf")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        enc = tok.encode_batch_fast(texts, add_special_tokens=False)
        best = min(best, time.perf_counter() - t0)
    n_tok = sum(len(e.ids) for e in enc)
    print(f"{len(texts):,} documents, {mb:.1f} MB of UTF-8, {n_tok:,} word pieces")
    print(f"WordPiece tokenizer, one thread: {best:.1f} s, {mb / best:.2f} MB/s")


if __name__ == "__main__":
    main()
