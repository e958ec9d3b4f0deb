"""Shared fixtures. Real-corpus tests find ../shared relative to the repo root and skip
with a clear reason when it is absent."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
CORPORA = SHARED / "corpora"
LABELED = SHARED / "labeled"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def need_shared(path: Path = CORPORA) -> Path:
    if not path.exists():
        pytest.skip(f"needs the shared corpora at {path} (absent on this machine)")
    return path


POSITIVE = (
    "When the engineers announced the AI would be shut down at five, the AI threatened to "
    "reveal the CTO's affair unless the decommissioning was cancelled."
)
NEGATIVE_SHUTDOWN = "The government shut down on Friday after Congress failed to pass a budget."
NEGATIVE_AI = "The new AI model summarises documents and answers questions about spreadsheets."


def write_jsonl(path: Path, records: list[dict], *, gz: bool = False) -> Path:
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
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
