"""Shared fixtures. Real-corpus tests find ../shared relative to the repo root and skip
with a clear reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from corpus_fixtures import (
    CORPORA,
    NEGATIVE_AI,
    NEGATIVE_SHUTDOWN,
    POSITIVE,
    write_jsonl,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def need_shared(path: Path = CORPORA) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared corpora at {path} (absent on this machine)")
    return path


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Four shards: plain, gzip, one with a bad line, one without ids."""
    root = tmp_path / "corpus"
    root.mkdir()
    texts = [POSITIVE, NEGATIVE_SHUTDOWN, NEGATIVE_AI]
    for k in range(3):
        recs = [{"id": f"s{k}-{i}", "text": texts[(i + k) % 3]} for i in range(30)]
        name = f"part-{k}.jsonl.gz" if k == 1 else f"part-{k}.jsonl"
        write_jsonl(root / name, recs, gz=(k == 1))
    bad = b'{"id": "b0", "text": "fine"}\n{not json\n{"id": "b2"}\n' + orjson.dumps(
        {"id": "b3", "text": POSITIVE}
    ) + b"\n"
    (root / "part-3.jsonl").write_bytes(bad)
    write_jsonl(root / "part-4.jsonl", [{"text": POSITIVE}, {"text": NEGATIVE_AI}])
    return root
