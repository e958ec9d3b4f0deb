"""Record-level reading: the scan's own readers, also handing back each document's original.

    for batch in read_records(source, opts):          # RecordBatch (see sources.batches)
        for i, row in enumerate(batch.rows): ...       # the same rows the scan recorded

There is no second parser: `read_records` runs the very readers the scan runs (`read_source`
with `keep=True`), so row numbers, bad records and document texts are those of the scan by
construction. What each document's original is, per format:

* JSON lines: `records[i]` (the parsed object, every field) and `raw[i]` (its line's bytes,
  as in the file, without the newline);
* JSON document: `records[i]` (the array element or keyed object; a keyed object without an
  id field gets the key as `opts.id_field`);
* Parquet: `arrow` (every column of the file rows in the batch; `first_row` is the row number
  of its first row; bad rows are in it too, the document rows are `rows`);
* CSV: `records[i]` = {column: cell text} for every column (headerless: f0, f1, ... and the
  joined `text`); the text column holds exactly the document text;
* hub datasets: `records[i]` = the dataset row;
* txt, tar, WARC/WET: no record beyond what the reader produces: `records[i]` =
  {"id": ..., "text": ..., "url": ...}.

Bad records are reported as in a scan (`batch.bad`), with no original: they could not be read.
"""

from __future__ import annotations

from collections.abc import Iterator

from corpus_scan.documents import DocBatch, ReadOptions, Source
from corpus_scan.sources import KEEPING, read_source
from corpus_scan.sources.batches import RecordBatch

__all__ = ["RecordBatch", "read_records"]


def read_records(source: Source, opts: ReadOptions) -> Iterator[RecordBatch]:
    """Yield the shard's batches with each document's original (see module docstring).

    Raises like `read_source` (InputError, ShardReadError after what could be read).
    """
    keeping = source.format in KEEPING
    for batch in read_source(source, opts, keep=True):
        if keeping:
            assert isinstance(batch, RecordBatch)
            yield batch
        else:
            yield _with_records(batch)


def _with_records(batch: DocBatch) -> RecordBatch:
    records = [
        {"id": i, "text": t, "url": u}
        for i, t, u in zip(batch.ids, batch.texts, batch.urls, strict=True)
    ]
    return RecordBatch(
        rows=batch.rows,
        ids=batch.ids,
        texts=batch.texts,
        urls=batch.urls,
        bad=batch.bad,
        n_bytes=batch.n_bytes,
        records=records,
    )
