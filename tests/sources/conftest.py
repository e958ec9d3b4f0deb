"""Shared helpers for the reader tests: collect a shard's batches, write compressed fixtures."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import zstandard

from corpus_scan.documents import BadRecord, DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources import read_source
from corpus_scan.sources.discover import detect_format

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPORA = REPO_ROOT.parent / "shared" / "corpora"


@dataclass
class ReadResult:
    batches: list[DocBatch] = field(default_factory=list)
    error: ShardReadError | None = None

    @property
    def rows(self) -> list[int]:
        return [r for b in self.batches for r in b.rows]

    @property
    def ids(self) -> list[str]:
        return [i for b in self.batches for i in b.ids]

    @property
    def texts(self) -> list[str]:
        return [t for b in self.batches for t in b.texts]

    @property
    def urls(self) -> list[str | None]:
        return [u for b in self.batches for u in b.urls]

    @property
    def bad(self) -> list[BadRecord]:
        return [x for b in self.batches for x in b.bad]

    @property
    def n_bytes(self) -> int:
        return sum(b.n_bytes for b in self.batches)

    def all_rows(self) -> list[int]:
        """Rows of good and bad records together, sorted."""
        return sorted(self.rows + [x.row for x in self.bad])


def collect(source: Source, opts: ReadOptions | None = None) -> ReadResult:
    """Read a whole shard, keeping the batches and a ShardReadError if one ends it."""
    result = ReadResult()
    try:
        for batch in read_source(source, opts or ReadOptions()):
            assert len(batch.rows) == len(batch.ids) == len(batch.texts) == len(batch.urls)
            result.batches.append(batch)
    except ShardReadError as e:
        result.error = e
    return result


def source_for(path: Path) -> Source:
    fmt, comp = detect_format(path.name) or ("?", None)
    st = path.stat()
    return Source(str(path), fmt, comp, st.st_size, st.st_mtime)


def compress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def jsonl_bytes(records: list[object]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes], Path]:
    """write(name, data) -> path under tmp_path (parents created)."""

    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora not present at {CORPORA} (../shared/corpora from the repo root)")
    return CORPORA


class Helpers:
    """Bundled as one fixture (`h`) so test modules need no imports from conftest."""

    collect = staticmethod(collect)
    source_for = staticmethod(source_for)
    compress = staticmethod(compress)
    jsonl_bytes = staticmethod(jsonl_bytes)


@pytest.fixture
def h() -> type[Helpers]:
    return Helpers
