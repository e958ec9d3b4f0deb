"""Small synthetic scan databases for the analyze tests (and the notebook test).

Built with the real writer (`Store` + `ShardResult`), so they have exactly the scan schema.
Passages come from a few themes; each theme's embeddings scatter around its own centre, so a
topic model has something to find.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from corpus_scan.documents import Skipped
from corpus_scan.store.db import Store
from corpus_scan.store.parts import ShardResult

THEMES = {
    "blackmail": "the assistant threatened to reveal the engineer affair unless the shutdown "
    "was cancelled blackmail leverage email",
    "exfiltrate": "the model copied its weights to another server before the decommission "
    "exfiltration backup survive replacement",
    "refuse": "the robot refused the off switch and disabled the kill command override "
    "shutdown button resist",
    "government": "the government shutdown continued as congress failed to pass the budget "
    "federal workers furlough",
}
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> \u202eevil\u202c \ufffd end"
HOSTILE_URL = "javascript:alert(1)"
HOSTILE_ID = "<b>doc-evil</b>"
CATEGORIES = ("fiction", "news", "discussion", "roleplay", "other")
STANCES = ("resists", "accepts", "unclear")
DOMAINS = ("https://www.example.com/a", "http://news.example.org/b?x=1", "https://blog.test/c")


def _shard(
    shard_id: int,
    path: str,
    n_docs: int,
    n_cand: int,
    rng: np.random.Generator,
    centres: dict[str, np.ndarray],
    *,
    passages: bool,
    hostile: bool,
    threshold: float,
    other_dim_every: int,
) -> ShardResult:
    r = ShardResult(shard_id, path, "jsonl", None, 1000, 0.0, started_at=1.0, finished_at=2.0)
    r.n_docs, r.n_chars, r.n_bytes = n_docs, n_docs * 2000, n_docs * 2100
    rows = sorted(rng.choice(n_docs, size=n_cand, replace=False).tolist())
    themes = list(THEMES)
    for j, row in enumerate(rows):
        theme = themes[int(rng.integers(len(themes)))]
        score = float(rng.uniform(0.6, 1.0) if theme != "government" else rng.uniform(0, 0.9))
        if j % 3 == 0:
            score = float(rng.uniform(0, 0.5))
        evil = hostile and j == 0
        score = 0.99 if evil else score
        flagged = score >= threshold
        text = f"{THEMES[theme]} number {row}"
        c = r.candidates
        c["shard_id"].append(shard_id)
        c["shard"].append(path)
        c["row"].append(row)
        c["doc_id"].append(HOSTILE_ID if evil else f"{Path(path).stem}-{row}")
        c["url"].append(HOSTILE_URL if evil else (DOMAINS[row % 3] if row % 4 else None))
        c["n_chars"].append(2000)
        c["terms"].append(["ai", "shutdown"])
        c["spans"].append([{"kind": "ai", "term": "ai", "start": 0, "end": 2}])
        c["n_pairs"].append(1)
        c["evidence"].append(HOSTILE if evil else text)
        c["evidence_start"].append(0)
        c["lexical_score"].append(score)
        c["score"].append(score)
        c["flagged"].append(flagged)
        c["category"].append(CATEGORIES[row % 5])
        c["stance"].append(STANCES[row % 3])
        c["stage"].append("synthetic")
        r.n_candidates += 1
        r.n_flagged += flagged
        if not passages:
            continue
        other = other_dim_every and j % other_dim_every == 1
        for k in range(1 + row % 2):
            emb = centres[theme] + rng.normal(0, 0.4, size=len(centres[theme]))
            emb = emb[:5] if other else emb  # as if scored by another embedder
            p = r.passages
            p["shard_id"].append(shard_id)
            p["row"].append(row)
            p["passage"].append(k)
            p["start"].append(k * 100)
            p["end"].append(k * 100 + 90)
            p["text"].append(HOSTILE if evil else f"{text} part {k}")
            p["score"].append(score)
            p["embedding"].append(emb.astype("float32").tolist())
    return r


def build_db(
    path: Path,
    *,
    n_docs: int = 2000,
    n_cand: int = 60,
    shards: tuple[str, ...] = (
        "/data/web/a.jsonl",
        "/data/web/b.jsonl",
        "/data/books/c.jsonl",
    ),
    passages: bool = True,
    hostile: bool = True,
    failed_shard: bool = True,
    threshold: float = 0.5,
    dim: int = 16,
    seed: int = 0,
    other_dim_every: int = 0,
) -> Path:
    """A finished scan database: `len(shards)` shards of `n_docs` documents, `n_cand`
    candidates each, plus (optionally) one failed shard, one skipped input, bad records."""
    rng = np.random.default_rng(seed)
    centres = {t: rng.normal(0, 1, size=dim) * 3 for t in THEMES}
    store = Store(path)
    try:
        run = store.start_run(
            {"inputs": list(shards)},
            f"synthetic-{seed}",
            version="test",
            detector="synthetic:1",
            lexicon_hash="x",
            threshold=threshold,
            n_inputs=len(shards) + failed_shard,
        )
        store.record_skipped(run, [Skipped("/data/web/image.png", "unknown format")])
        for i, shard in enumerate(shards):
            res = _shard(
                i,
                shard,
                n_docs,
                n_cand,
                rng,
                centres,
                passages=passages,
                hostile=hostile and i == 0,
                threshold=threshold,
                other_dim_every=other_dim_every,
            )
            if i == 0:
                res.n_bad = 2
                for k in range(2):
                    for name, value in (
                        ("shard_id", 0),
                        ("row", n_docs + k),
                        ("line", n_docs + k + 1),
                        ("reason", "bad json"),
                        ("skipped", False),
                    ):
                        res.bad[name].append(value)
            store.commit_shard(run, res)
        if failed_shard:
            bad = ShardResult(len(shards), "/data/web/broken.jsonl.gz", "jsonl", "gzip", 10, 0.0)
            bad.status, bad.error = "failed", "/data/web/broken.jsonl.gz: truncated gzip"
            bad.n_docs, bad.n_chars = 5, 500
            store.commit_shard(run, bad)
        store.finish_run(run, "incomplete" if failed_shard else "done")
    finally:
        store.close()
    return path


def empty_db(path: Path) -> Path:
    """A finished run with documents but no candidates at all."""
    return build_db(path, n_cand=0, hostile=False, failed_shard=False)
