"""Arrow IPC shards: what `datasets` writes (`save_to_disk` folders and its cache files, `.arrow`
in the IPC *stream* format) and Arrow IPC / Feather v2 *files* (`.arrow`, `.feather`, `.ipc`).

The two layouts are told apart by their first bytes (a file starts with `ARROW1`), not by the
extension, since `.arrow` is used for both. The file is memory-mapped and read one record batch
at a time, so memory stays bounded by a batch (uncompressed buffers are not even copied: only
the pages of the text, id and url columns are touched). Column choice, null and invalid UTF-8
rules are those of Parquet (`tabular`): `row` is the 0-based row index in the file. Each
record batch is fully validated (offsets, UTF-8) before a value is read, since IPC readers
trust the file: a damaged one fails the shard after the rows before that batch, and never
takes the process down.

`part=(k, n)` reads every n-th record batch from batch k; the batches in between are skipped
by their metadata, and row numbers stay those of the whole file. `keep=True` yields
RecordBatch objects whose `arrow` holds every column of the batch's rows, as for Parquet.
Feather v1 (a format older than Arrow IPC) is refused with how to convert it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from corpus_scan.documents import DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import BatchBuilder, spread_bytes
from corpus_scan.sources.tabular import _Columns, _fill, check_text_type

_FILE_MAGIC = b"ARROW1"
_FEATHER_V1 = b"FEA1"


def arrow_schema(path: str) -> pa.Schema:
    """The schema of an Arrow IPC file or stream (read from its header only)."""
    with pa.memory_map(path, "r") as mm:
        return _open(path, mm).schema


_Reader = pa.ipc.RecordBatchFileReader | pa.ipc.RecordBatchStreamReader


def _open(path: str, mm: pa.MemoryMappedFile) -> _Reader:
    head = mm.read(8)
    mm.seek(0)
    if head.startswith(_FEATHER_V1):
        raise ShardReadError(
            f"{path}: a Feather v1 file, which is read whole, not in batches: convert it with "
            "pyarrow.feather.write_feather(pyarrow.feather.read_table(PATH), NEW_PATH)"
        )
    try:
        if head.startswith(_FILE_MAGIC):
            return pa.ipc.open_file(mm)
        return pa.ipc.open_stream(mm)
    except (pa.ArrowException, OSError) as e:
        raise ShardReadError(f"{path}: not a readable Arrow IPC file or stream ({e})") from None


def _batches(reader: _Reader, k: int, n: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(first row, batch) of batches k, k+n, k+2n... with rows numbered over the whole file."""
    first = 0
    if isinstance(reader, pa.ipc.RecordBatchFileReader):
        for i in range(reader.num_record_batches):
            rb = reader.get_batch(i)  # memory-mapped: only metadata until a column is read
            if i % n == k:
                yield first, rb
            first += rb.num_rows
        return
    for i, rb in enumerate(reader):
        if i % n == k:
            yield first, rb
        first += rb.num_rows


def read_arrow(
    source: Source, opts: ReadOptions, part: tuple[int, int] = (0, 1), *, keep: bool = False
) -> Iterator[DocBatch]:
    """Read an Arrow IPC shard in batches of at most `opts.batch_size` rows (see module doc)."""
    path = source.path
    try:
        mm = pa.memory_map(path, "r")
    except (pa.ArrowException, OSError) as e:
        raise ShardReadError(f"{path}: cannot open ({e})") from None
    with mm:
        reader = _open(path, mm)
        cols = _Columns(path, reader.schema, opts)
        check_text_type(path, reader.schema, cols.text)
        builder = BatchBuilder(opts.batch_size, keep=keep)
        size = builder.size
        k, n = part
        done = 0
        # reading a damaged file's values without a full check can crash the process: bad
        # offsets reach C code (measured: 4 segmentation faults in 300 damaged files)
        checked = None if keep else list(dict.fromkeys(c.split(".")[0] for c in cols.read))
        try:
            for first, rb in _batches(reader, k, n):
                done = first
                (rb if checked is None else rb.select(checked)).validate(full=True)
                for off in range(0, rb.num_rows, size):
                    sub = rb.slice(off, size)
                    rows = list(range(first + off, first + off + sub.num_rows))
                    _fill(builder, path, sub, cols, rows)
                    out = builder.take(
                        spread_bytes(rb.nbytes, rb.num_rows, off, off + sub.num_rows)
                    )
                    if keep:
                        out.arrow, out.first_row = sub, first + off  # type: ignore[attr-defined]
                    yield out
                    done = first + off + sub.num_rows
        except (pa.ArrowException, OSError) as e:
            raise ShardReadError(f"{path}: Arrow IPC read failed after row {done} ({e})") from None
