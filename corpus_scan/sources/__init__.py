"""Readers: turn input shards (files, archives, hub datasets) into `DocBatch` streams.

    sources, skipped = discover(["data/", "more/*.jsonl.gz", "hf:ORG/NAME"])
    for source in sources:
        for batch in read_source(source, ReadOptions()):
            ...

Contract (see `corpus_scan.documents`): each reader yields batches of at most
`opts.batch_size` records (good + bad) with exact 0-based `row` numbers, counts every record
that is not a document as a `BadRecord`, and on a broken stream yields everything it could
read before raising `ShardReadError`. Memory stays bounded by the batch size and the largest
single record.
"""

from __future__ import annotations

import importlib
import tarfile
from collections.abc import Callable, Iterator

import pyarrow as pa
import zstandard
from isal import isal_zlib

from corpus_scan.documents import DocBatch, InputError, ReadOptions, ShardReadError, Source
from corpus_scan.sources.discover import detect_format, discover
from corpus_scan.sources.jsonl import read_json, read_jsonl
from corpus_scan.sources.streams import StreamError

Reader = Callable[[Source, ReadOptions], Iterator[DocBatch]]


class _Lazy:
    """A reader imported on first use: a worker reading JSON lines never pays for the
    Parquet, WARC (warcio, fsspec) or hub (datasets) imports."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self._fn: Reader | None = None

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204 - a reader's signature
        if self._fn is None:
            self._fn = getattr(importlib.import_module(self.module), self.name)
        return self._fn(*args, **kwargs)


# format name (Source.format) -> reader
FORMATS: dict[str, Reader] = {
    "jsonl": read_jsonl,
    "json": read_json,
    "parquet": _Lazy("corpus_scan.sources.tabular", "read_parquet"),
    "arrow": _Lazy("corpus_scan.sources.arrow_ipc", "read_arrow"),
    "csv": _Lazy("corpus_scan.sources.tabular", "read_csv"),
    "txt": _Lazy("corpus_scan.sources.plaintext", "read_txt"),
    "tar": _Lazy("corpus_scan.sources.plaintext", "read_tar"),
    "warc": _Lazy("corpus_scan.sources.warc", "read_warc"),
    "wet": _Lazy("corpus_scan.sources.warc", "read_warc"),
    "hf": _Lazy("corpus_scan.sources.hub", "read_hf"),
}

# Library errors that mean "this shard is unreadable", as opposed to bugs in our code.
_SHARD_ERRORS = (
    OSError,
    EOFError,
    StreamError,
    tarfile.TarError,
    pa.ArrowException,
    zstandard.ZstdError,
    isal_zlib.error,
    UnicodeError,
)

__all__ = ["FORMATS", "SPLITTABLE", "Reader", "detect_format", "discover", "read_source"]


# formats whose readers accept `part=(k, n)` (see corpus_scan.run.units)
SPLITTABLE = frozenset({"jsonl", "parquet", "arrow"})
# formats whose readers accept `keep=True` (record-level reading, see sources.originals)
KEEPING = frozenset({"jsonl", "json", "parquet", "arrow", "csv", "hf"})


def read_source(
    source: Source, opts: ReadOptions, part: tuple[int, int] | None = None, *, keep: bool = False
) -> Iterator[DocBatch]:
    """Yield the batches of one shard, dispatching on `source.format`.

    `part=(k, n)` yields only part k of n of a splittable shard (rows keep their numbers).
    `keep=True` asks the readers that can (`KEEPING`) for RecordBatch objects carrying each
    document's original record; use `originals.read_records`, which covers every format.
    Raises InputError for an unknown format, ShardReadError (after yielding what was read)
    when the shard is unreadable or its stream breaks.
    """
    reader = FORMATS.get(source.format)
    if reader is None:
        raise InputError(f"{source.path}: unknown format {source.format!r}")
    if part is not None and part[1] > 1 and source.format not in SPLITTABLE:
        raise InputError(f"{source.path}: format {source.format!r} cannot be split")
    kw = {"keep": True} if keep and source.format in KEEPING else {}
    try:
        if part is not None and part[1] > 1:
            yield from reader(source, opts, part, **kw)  # type: ignore[call-arg]
        else:
            yield from reader(source, opts, **kw)  # type: ignore[call-arg]
    except (ShardReadError, InputError):
        raise
    except _SHARD_ERRORS as e:  # a safety net: readers translate the errors they expect
        msg = " ".join(str(e).split())[:300] or type(e).__name__
        raise ShardReadError(f"{source.path}: {msg}") from e
