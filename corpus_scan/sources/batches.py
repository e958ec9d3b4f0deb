"""Filling DocBatch objects: the size rule and byte accounting shared by all readers.

A batch holds at most `batch_size` records, good and bad together: bad records count too so a
shard of nothing but broken lines still yields bounded batches.
"""

from __future__ import annotations

from corpus_scan.documents import BadRecord, DocBatch

MAX_DOC_BYTES = 256 << 20  # one document (txt file, tar member, WARC payload) above this is bad
DEFAULT_BATCH = 2048


class BatchBuilder:
    """Accumulates records; `full()` says when the caller should `take()` and yield."""

    __slots__ = ("size", "batch")

    def __init__(self, batch_size: int) -> None:
        self.size = batch_size if batch_size > 0 else DEFAULT_BATCH
        self.batch = DocBatch()

    def add(self, row: int, doc_id: str, text: str, url: str | None) -> None:
        b = self.batch
        b.rows.append(row)
        b.ids.append(doc_id)
        b.texts.append(text)
        b.urls.append(url)

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
        self.batch = DocBatch()
        return batch


def spread_bytes(total: int, n_records: int, start: int, end: int) -> int:
    """Share of `total` for records [start, end) when bytes cannot be attributed per record.

    Integer shares computed from cumulative bounds, so they always add up to `total` exactly.
    """
    if n_records <= 0:
        return total if start == 0 else 0
    return total * end // n_records - total * start // n_records
