"""Parquet and CSV readers (column-oriented: the text column is chosen once per file).

Column choice: the first of `opts.text_fields` that names a column (dotted names reach into
struct columns, e.g. `metadata.url`); none → `ShardReadError` listing the columns, raised
before any batch. Only the text/id/url columns are read. Null text cells are bad records
("field 'text' is null"); empty or whitespace-only cells are documents (an empty CSV cell
is the empty string). Rows keep their file order, so `row` is the 0-based row index in the
file.

CSV goes through pyarrow's streaming reader, single-threaded because only then does pyarrow
report the ordinal of each ragged row (`InvalidRow.number`), which lets bad rows take their
exact place in the row numbering. Text/id/url columns are read as raw bytes and decoded here,
so one row with invalid UTF-8 is one bad record rather than a failed file. `BadRecord.line`
is the physical line where the bad record starts (1-based, header included): pyarrow numbers
records, not lines, and a quoted value may span lines, so the first bad record of a file
starts a second, lazy pass (Python's `csv` module, same quoting rules) that maps record
numbers to lines up to the last bad record; files without bad records never pay for it.

Headerless CSV (AG News style: `"3","title","body"`) is recognised when no field name
matches a text field and the first row does not look like a header (a field of 5+ words or
over 64 characters); its text is the row's non-numeric fields joined by newlines. A record
larger than 16 MB breaks the CSV parser (ShardReadError).
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Callable, Generator, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from corpus_scan.documents import BadRecord, DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import BatchBuilder, spread_bytes
from corpus_scan.sources.csv_lines import PhysicalLines
from corpus_scan.sources.records import column_list
from corpus_scan.sources.streams import (
    ChunkReader,
    Interrupted,
    iter_chunks,
    open_binary,
    until_break,
)

_CSV_BLOCK = 16 << 20  # pyarrow needs a whole record inside one block
_NUMERIC = re.compile(r"\s*[-+]?[\d.,]+\s*")


def _resolve(field: str, schema: pa.Schema) -> str | None:
    """The column path for `field` if the schema has it (top level or inside structs)."""
    if field in schema.names:
        return field
    if "." not in field:
        return None
    parts = field.split(".")
    if parts[0] not in schema.names:
        return None
    typ = schema.field(parts[0]).type
    for part in parts[1:]:
        if not pa.types.is_struct(typ) or typ.get_field_index(part) < 0:
            return None
        typ = typ.field(part).type
    return field


def field_type(schema: pa.Schema, path: str) -> pa.DataType:
    """The type of column `path` (already resolved by `_resolve`; "a.b" inside structs)."""
    if path in schema.names:
        return schema.field(path).type
    parts = path.split(".")
    typ = schema.field(parts[0]).type
    for part in parts[1:]:
        typ = typ.field(part).type
    return typ


def _column(batch: pa.RecordBatch, path: str) -> list:
    """Python values of column `path` ("a.b" walks struct children) in `batch`."""
    if path in batch.schema.names:
        return batch.column(path).to_pylist()
    parts = path.split(".")
    arr = batch.column(parts[0])
    for part in parts[1:]:
        arr = pc.struct_field(arr, part)
    return arr.to_pylist()


def _as_text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value  # type: ignore[return-value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")  # ids/urls: a stray byte is not fatal
    return str(value)


class _Columns:
    """The text/id/url column paths chosen for one file."""

    def __init__(self, path: str, schema: pa.Schema, opts: ReadOptions) -> None:
        self.text = next((c for f in opts.text_fields if (c := _resolve(f, schema))), None)
        if self.text is None:
            # one column whose name holds ; or a tab: a CSV with another delimiter
            other = [d for d in (";", "\t", "|") if len(schema.names) == 1
                     and d in schema.names[0]]
            hint = (f"; the file looks {other[0]!r}-separated, and only commas are read: "
                    "convert it to comma-separated CSV" if other else "")
            raise ShardReadError(
                f"{path}: no text column (tried {', '.join(opts.text_fields)}; "
                f"columns: {column_list(schema.names)}){hint}"
            )
        self.id = next((c for f in opts.id_fields if (c := _resolve(f, schema))), None)
        self.urls = [c for f in opts.url_fields if (c := _resolve(f, schema))]
        # pyarrow reads a struct once even when several of its children are selected
        self.read = list(dict.fromkeys([self.text, *([self.id] if self.id else []), *self.urls]))

    @classmethod
    def single(cls, text: str) -> _Columns:
        """Columns of a synthetic batch holding only a text column."""
        cols = cls.__new__(cls)
        cols.text, cols.id, cols.urls, cols.read = text, None, [], [text]
        return cols


def _fill(
    builder: BatchBuilder,
    path: str,
    batch: pa.RecordBatch,
    cols: _Columns,
    rows: list[int],
    originals: dict[str, list] | None = None,
    line_of: Callable[[int], int | None] | None = None,
) -> None:
    """Turn one arrow batch into documents / bad records (rows: their row numbers; `line_of`
    maps a row number to its physical line, where the format has one).

    `originals` (CSV read with keep=True): every column's values; each document then keeps
    the record {column: value} with its text column holding the document text.
    """
    texts = _column(batch, cols.text)
    ids = _column(batch, cols.id) if cols.id else None
    urls = [_column(batch, c) for c in cols.urls]
    name = cols.text
    for i, value in enumerate(texts):
        row = rows[i]
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                builder.add_bad(row, line_of(row) if line_of else None, "invalid UTF-8")
                continue
        if value is None:
            builder.add_bad(row, line_of(row) if line_of else None, f"field '{name}' is null")
            continue
        rid = _as_text(ids[i]) if ids is not None else None
        url = next((u for col in urls if (u := _as_text(col[i]))), None)
        record = None
        if originals is not None:
            record = {k: _cell(v[i]) for k, v in originals.items()}
            record[name] = value
        builder.add(row, rid or f"{path}:{row}", value, url, record)


def _cell(value: object) -> object:
    """A CSV cell kept for a record: text (a stray invalid byte becomes U+FFFD)."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def read_parquet(
    source: Source, opts: ReadOptions, part: tuple[int, int] = (0, 1), *, keep: bool = False
) -> Iterator[DocBatch]:
    """Read a Parquet shard in batches of `opts.batch_size` rows; `part=(k, n)` reads only
    row groups k, k+n, k+2n... (row numbers stay those of the whole file).

    `keep=True` reads every column and yields RecordBatch objects whose `arrow` holds the
    batch's file rows (one arrow batch per yielded batch)."""
    path = source.path
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise ShardReadError(f"{path}: not a readable Parquet file ({e})") from None
    with pf:
        schema = pf.schema_arrow
        cols = _Columns(path, schema, opts)
        check_text_type(path, schema, cols.text)
        meta = pf.metadata
        n_rows = meta.num_rows
        # the uncompressed size of the row groups, shared out by rows (no per-row byte counts)
        total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        builder = BatchBuilder(opts.batch_size, keep=keep)
        offsets = [0]
        for i in range(meta.num_row_groups):
            offsets.append(offsets[-1] + meta.row_group(i).num_rows)
        k, n = part
        done = 0
        try:
            for group in range(k, meta.num_row_groups, n):
                done = offsets[group]
                batches = pf.iter_batches(
                    batch_size=builder.size, row_groups=[group], columns=None if keep else cols.read
                )
                for rb in batches:
                    _fill(builder, path, rb, cols, list(range(done, done + rb.num_rows)))
                    out = builder.take(spread_bytes(total, n_rows, done, done + rb.num_rows))
                    if keep:
                        out.arrow, out.first_row = rb, done  # type: ignore[attr-defined]
                    yield out
                    done += rb.num_rows
        except (pa.ArrowException, OSError) as e:
            raise ShardReadError(f"{path}: Parquet read failed after row {done} ({e})") from None


def check_text_type(path: str, schema: pa.Schema, text: str) -> None:
    """A one-line error when the chosen text column holds no text, naming the columns that
    do (a whole column has one type, so this fails the shard rather than each row)."""
    typ = field_type(schema, text)
    if _is_text_type(typ):
        return
    others = [f.name for f in schema if _is_text_type(f.type)]
    hint = f"; text columns: {column_list(others)}" if others else "; it has no text column"
    raise ShardReadError(
        f"{path}: text column '{text}' holds {typ}, not text (pass --text-field NAME{hint})"
    )


def _is_text_type(typ: pa.DataType) -> bool:
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_string_view(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    )


def _looks_like_data(fields: list[str]) -> bool:
    """True when a CSV's first row is data, not column names (see module docstring)."""
    return any(len(f) > 64 or len(f.split()) >= 5 for f in fields)


def _first_row(head: bytes) -> list[str]:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        return next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return []


def read_csv(source: Source, opts: ReadOptions, *, keep: bool = False) -> Iterator[DocBatch]:
    """Read a CSV shard (optionally compressed) with pyarrow's streaming reader.

    `keep=True` reads every column and yields RecordBatch objects whose records map each
    column name (headerless files: f0, f1, ... plus `text`) to the cell's text.
    """
    path = source.path
    with open_binary(path) as fh:
        broken = Interrupted()
        stream = ChunkReader(until_break(iter_chunks(fh, source.compression), broken))
        first = _first_row(stream.peek_bytes(1 << 20))
        rows = 0
        if first:  # else: nothing but blank lines
            lines = PhysicalLines(source)
            try:
                rows = yield from _read_csv_stream(path, stream, first, opts, keep, lines)
            finally:
                lines.close()
    if broken.error is not None:
        dropped = (
            f"; a partial line of {broken.partial} bytes was not read" if broken.partial else ""
        )
        raise ShardReadError(f"{path}: {broken.error} after CSV row {rows}{dropped}")


def _read_csv_stream(
    path: str, stream: ChunkReader, first: list[str], opts: ReadOptions, keep: bool = False,
    lines: PhysicalLines | None = None,
) -> Generator[DocBatch, None, int]:
    """Yields the batches; returns the number of rows read."""
    header_schema = pa.schema([(name, pa.string()) for name in first])
    try:
        cols = _Columns(path, header_schema, opts)
        headerless = False
    except ShardReadError:
        if not _looks_like_data(first):
            raise
        headerless = True
    if headerless:
        names = [f"f{i}" for i in range(len(first))]
        joined = [n for n, v in zip(names, first, strict=True) if not _NUMERIC.fullmatch(v)]
        cols = _Columns.single("text")
        read = joined
    else:
        names = first
        read = cols.read
    if keep:
        read = list(dict.fromkeys(names))  # every column, as text
    first_number = 1 if headerless else 2  # pyarrow numbers rows from 1, header included

    def line_of(row: int) -> int | None:
        return lines.line(row + first_number) if lines is not None else None

    ragged: deque[tuple[int, str]] = deque()  # reported by pyarrow ahead of the batch holding it

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number if row.number is not None and row.number > 0 else -1
        reason = f"ragged row ({row.actual_columns} fields, expected {row.expected_columns})"
        ragged.append((number, reason))
        return "skip"

    builder = BatchBuilder(opts.batch_size, keep=keep)
    next_row = 0
    reported = 0
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=_CSV_BLOCK, autogenerate_column_names=headerless
            ),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=read, column_types={c: pa.binary() for c in read}
            ),
        )
        for block in reader:
            n = block.num_rows
            if n == 0:
                continue  # its bytes and ragged rows go with the next block
            got = stream.consumed - reported
            reported = stream.consumed
            for start in range(0, n, builder.size):
                rb = block.slice(start, builder.size)
                good_rows: list[int] = []
                for _ in range(rb.num_rows):
                    # a ragged row takes its own ordinal; good rows fill the gaps in order
                    while ragged and ragged[0][0] - first_number <= next_row:
                        _, reason = ragged.popleft()
                        builder.add_bad(next_row, line_of(next_row), reason)
                        next_row += 1
                    good_rows.append(next_row)
                    next_row += 1
                originals = None
                if keep:
                    originals = {n: rb.column(n).to_pylist() for n in rb.schema.names}
                if headerless:
                    rb = _join_columns(rb, joined)
                _fill(builder, path, rb, cols, good_rows, originals, line_of)
                builder.batch.bad.sort(key=_row_of)  # ragged rows were added first
                yield builder.take(spread_bytes(got, n, start, start + rb.num_rows))
    except pa.ArrowException as e:
        next_row = yield from _flush_ragged(builder, ragged, next_row, line_of)
        yield builder.take(stream.consumed - reported)
        raise ShardReadError(f"{path}: CSV parse failed after row {next_row} ({e})") from None
    next_row = yield from _flush_ragged(builder, ragged, next_row, line_of)
    stream.drain()
    if builder.count() or stream.consumed > reported:
        yield builder.take(stream.consumed - reported)
    return next_row


def _row_of(bad: BadRecord) -> int:
    return bad.row


def _flush_ragged(
    builder: BatchBuilder, ragged: deque[tuple[int, str]], next_row: int,
    line_of: Callable[[int], int | None],
) -> Generator[DocBatch, None, int]:
    """Ragged rows after the last good row (or before a failure) take the next numbers."""
    while ragged:
        if builder.full():
            yield builder.take(0)
        _, reason = ragged.popleft()
        builder.add_bad(next_row, line_of(next_row), reason)
        next_row += 1
    return next_row


def _join_columns(rb: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """Headerless CSV: one `text` column = the row's non-numeric fields joined by newlines."""
    columns = [rb.column(n).to_pylist() for n in names]
    joined: list[bytes | None] = []
    for values in zip(*columns, strict=True):
        parts = [v for v in values if v]
        joined.append(b"\n".join(parts) if parts else b"")
    return pa.RecordBatch.from_arrays([pa.array(joined, pa.binary())], names=["text"])
