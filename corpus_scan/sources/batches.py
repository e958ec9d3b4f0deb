"""Filling DocBatch objects: the size rule and byte accounting shared by all readers.

A batch holds at most `batch_size` records, good and bad together: bad records count too so a
shard of nothing but broken lines still yields bounded batches.

`RecordBatch` is the record-level variant (readers called with `keep=True`, see
`corpus_scan.sources.originals`): the same batch plus each document's original record, for
writing filtered shards that keep every field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from corpus_scan.documents import BadRecord, DocBatch

MAX_DOC_BYTES = 256 << 20  # one document (txt file, tar member, WARC payload) above this is bad
DEFAULT_BATCH = 2048


@dataclass(slots=True)
class RecordBatch(DocBatch):
    """A DocBatch that also carries what each document was read from (parallel to `rows`).

    Exactly one of these describes the originals, depending on the format:
    `records` (dicts: JSON, CSV, hub; built from id/text/url for txt, tar and WARC),
    `raw` (JSON lines: each document's line, without its newline; set together with `records`),
    `arrow` (Parquet: every column of file rows `first_row .. first_row + arrow.num_rows`,
    good and bad rows alike; `records` stays empty).
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    arrow: pa.RecordBatch | None = None
    first_row: int = 0


class BatchBuilder:
    """Accumulates records; `full()` says when the caller should `take()` and yield.

    `keep=True` builds RecordBatch objects; `add(..., record=...)` then also keeps the record.
    """

    __slots__ = ("size", "batch", "keep")

    def __init__(self, batch_size: int, keep: bool = False) -> None:
        self.size = batch_size if batch_size > 0 else DEFAULT_BATCH
        self.keep = keep
        self.batch = RecordBatch() if keep else DocBatch()

    def add(
        self, row: int, doc_id: str, text: str, url: str | None, record: dict | None = None
    ) -> None:
        b = self.batch
        b.rows.append(row)
        b.ids.append(doc_id)
        b.texts.append(text)
        b.urls.append(url)
        if record is not None:
            b.records.append(record)  # type: ignore[attr-defined]  # a RecordBatch (keep=True)

    def add_bad(self, row: int, line: int | None, reason: str, skipped: bool = False) -> None:
        self.batch.bad.append(BadRecord(row, line, reason, skipped))

    def count(self) -> int:
        return len(self.batch.texts) + len(self.batch.bad)

    def full(self) -> bool:
        return self.count() >= self.size

    def take(self, n_bytes: int) -> DocBatch:
        """Hand over the current batch with its byte count and start a new one."""
        batch = self.batch
        batch.n_bytes = n_bytes
        self.batch = RecordBatch() if self.keep else DocBatch()
        return batch


def spread_bytes(total: int, n_records: int, start: int, end: int) -> int:
    """Share of `total` for records [start, end) when bytes cannot be attributed per record.

    Integer shares computed from cumulative bounds, so they always add up to `total` exactly.
    """
    if n_records <= 0:
        return total if start == 0 else 0
    return total * end // n_records - total * start // n_records
