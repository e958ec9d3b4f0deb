"""Filter one shard: decide each document's copies, write them, count everything.

`ShardFilter` is push-based so a scan could call it batch by batch (single pass): give it
each `RecordBatch` with the flagged rows and candidates known so far for those rows, then
`commit()`. Decisions per document (row):

* drop: flagged → 0 copies; else 1, or K when its candidate stance is `accepts` (K =
  upsample_accepting > 1);
* keep: flagged → 1 copy; else 0;
* annotate: like drop but flagged documents are kept, with `cs_*` columns on every document.

written = input - dropped + duplicated holds by construction; `commit(expect=...)` refuses
(and removes the temporary file) when the document/bad/skipped counts or the candidate rows
do not line up with the scan's, so an output never silently disagrees with the database.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from corpus_scan.documents import InputError
from corpus_scan.shards.flags import Candidate
from corpus_scan.shards.schema import dumps, to_table
from corpus_scan.shards.writer import JsonlSink, ParquetSink
from corpus_scan.sources.batches import RecordBatch

MODES = ("drop", "keep", "annotate")
FORMATS = ("parquet", "jsonl.gz")
CS_SCHEMA = pa.schema(
    [
        ("cs_score", pa.float64()),
        ("cs_flagged", pa.bool_()),
        ("cs_category", pa.string()),
        ("cs_stance", pa.string()),
        ("cs_run_id", pa.int32()),
    ]
)
CS_FIELDS = frozenset(CS_SCHEMA.names)
_BOM = b"\xef\xbb\xbf"


@dataclass
class ShardCounts:
    input_docs: int = 0
    flagged: int = 0
    written: int = 0
    dropped: int = 0
    duplicated: int = 0
    bad_records: int = 0
    skipped_records: int = 0
    candidates_seen: int = 0


class ShardFilter:
    """Writes the filtered copy of one shard to `path` (see module doc).

    `schema` is required for Parquet output: the input file's schema for Parquet inputs,
    else the inferred one (`schema.SchemaInference`) with its `json_fields`.
    """

    def __init__(
        self,
        path: Path,
        *,
        mode: str,
        fmt: str,
        run_id: int,
        upsample_accepting: int = 0,
        schema: pa.Schema | None = None,
        json_fields: frozenset[str] = frozenset(),
    ) -> None:
        self.mode, self.fmt, self.run_id = mode, fmt, run_id
        self.k = upsample_accepting if upsample_accepting > 1 else 1
        self.counts = ShardCounts()
        self.json_fields = json_fields
        self._in_schema: pa.Schema | None = None
        if fmt == "parquet":
            if schema is None:
                raise ValueError("Parquet output needs the shard's schema")
            if mode == "annotate":  # existing cs_* fields are replaced by this run's
                meta = {
                    k: v for k, v in (schema.metadata or {}).items() if k != b"huggingface"
                }  # Hugging Face feature metadata would no longer match the columns
                base = [f for f in schema if f.name not in CS_FIELDS]
                schema = pa.schema(base, metadata=meta or None)
            schema = viewless_schema(schema)
            self._in_schema = schema  # what records / input batches are turned into
            out_schema = pa.schema([*schema, *CS_SCHEMA], metadata=schema.metadata)
            self.sink: JsonlSink | ParquetSink = ParquetSink(
                path, out_schema if mode == "annotate" else schema
            )
        else:
            self.sink = JsonlSink(path)

    # decisions ---------------------------------------------------------------------------
    def _select(
        self, batch: RecordBatch, flagged: Container[int], cands: Mapping[int, Candidate]
    ) -> tuple[list[int], list[bool], list[Candidate | None]]:
        """Batch positions to write (repeated for copies), with each one's flag and candidate."""
        c = self.counts
        keep_mode, drop_mode, k = self.mode == "keep", self.mode == "drop", self.k
        pos: list[int] = []
        flags: list[bool] = []
        cand_of: list[Candidate | None] = []
        ids = batch.ids
        for i, row in enumerate(batch.rows):
            is_flagged = row in flagged
            cand = cands.get(row)
            if cand is not None:
                c.candidates_seen += 1
                if cand.doc_id != ids[i]:
                    raise InputError(
                        f"row {row} is {ids[i]!r} in the file but {cand.doc_id!r} in the scan: "
                        "rows do not line up; rescan"
                    )
            if keep_mode:
                n = 1 if is_flagged else 0
            elif is_flagged and drop_mode:
                n = 0
            elif k > 1 and not is_flagged and cand is not None and cand.stance == "accepts":
                n = k
            else:
                n = 1
            c.input_docs += 1
            c.flagged += is_flagged
            if n == 0:
                c.dropped += 1
                continue
            c.written += n
            c.duplicated += n - 1
            pos.extend([i] * n)
            flags.extend([is_flagged] * n)
            cand_of.extend([cand] * n)
        for bad in batch.bad:
            if bad.skipped:
                c.skipped_records += 1
            else:
                c.bad_records += 1
        return pos, flags, cand_of

    def _annotations(self, flags: list[bool], cand_of: list[Candidate | None]) -> dict[str, list]:
        return {
            "cs_score": [x.score if x is not None else None for x in cand_of],
            "cs_flagged": flags,
            "cs_category": [x.category if x is not None else None for x in cand_of],
            "cs_stance": [x.stance if x is not None else None for x in cand_of],
            "cs_run_id": [self.run_id] * len(flags),
        }

    # writing -----------------------------------------------------------------------------
    def add(
        self, batch: RecordBatch, flagged: Container[int], cands: Mapping[int, Candidate]
    ) -> None:
        """Decide and write one batch. `flagged`/`cands` must cover the batch's rows."""
        pos, flags, cand_of = self._select(batch, flagged, cands)
        if not pos:
            return
        notes = self._annotations(flags, cand_of) if self.mode == "annotate" else None
        if batch.arrow is not None:
            self._add_arrow(batch, pos, notes)
        elif isinstance(self.sink, ParquetSink):
            table = to_table([batch.records[i] for i in pos], self._in_schema, self.json_fields)
            self.sink.write(_with_notes(table, notes))
        else:
            self.sink.write(self._lines(batch, pos, notes))

    def _add_arrow(self, batch: RecordBatch, pos: list[int], notes: dict | None) -> None:
        arrow = batch.arrow
        assert arrow is not None
        index = pa.array([batch.rows[i] - batch.first_row for i in pos], pa.int64())
        schema = viewless_schema(arrow.schema)
        if schema is not arrow.schema:
            arrow = pa.RecordBatch.from_arrays(
                [_unview(col, f.type) for col, f in zip(arrow.columns, schema, strict=True)],
                schema=schema,
            )
        table = pa.Table.from_batches([arrow.take(index)])
        if isinstance(self.sink, ParquetSink):
            if notes is not None:
                table = table.select([n for n in table.column_names if n not in CS_FIELDS])
            table = table.replace_schema_metadata(self._in_schema.metadata)
            self.sink.write(_with_notes(table, notes))
        else:
            records = table.to_pylist()
            if notes is not None:
                for j, rec in enumerate(records):
                    rec.update({name: values[j] for name, values in notes.items()})
            self.sink.write([dumps(r) + b"\n" for r in records])

    def _lines(self, batch: RecordBatch, pos: list[int], notes: dict | None) -> list[bytes]:
        """JSON lines: the original line when there is one (verbatim, or with the cs_*
        fields spliced in before its closing brace), else the record as JSON."""
        raw, records, rows = batch.raw, batch.records, batch.rows
        out: list[bytes] = []
        for j, i in enumerate(pos):
            note = {n: v[j] for n, v in notes.items()} if notes is not None else None
            line = raw[i] if raw else None
            if line is not None and rows[i] == 0 and line.startswith(_BOM):
                line = line[3:]  # a BOM belongs at the start of a file, not of a line
            if line is not None and note is None:
                out.append(line + b"\n")
            elif line is not None and not CS_FIELDS.intersection(records[i]):
                out.append(_splice(line, records[i], note))
            else:
                rec: dict[str, Any] = records[i] if note is None else {**records[i], **note}
                out.append(dumps(rec) + b"\n")
        return out

    def commit(self, expect: tuple[int, int, int, int, int] | None = None
               ) -> tuple[int, str | None]:
        """Close and move into place; returns (size, sha256), or (0, None) when nothing was
        written (no file is left). `expect` = (docs, bad, skipped, candidates, flagged) from
        the scan: any difference aborts with an InputError."""
        if expect is not None:
            c = self.counts
            got = (c.input_docs, c.bad_records, c.skipped_records, c.candidates_seen, c.flagged)
            if got != expect:
                self.abort()
                names = ("documents", "bad records", "skipped records", "candidates", "flagged")
                diff = ", ".join(
                    f"{n} {g} vs {e}" for n, g, e in zip(names, got, expect, strict=True) if g != e
                )
                raise InputError(f"read does not match the scan ({diff} in the scan); rescan")
        if self.counts.written == 0:
            # no file at all: an empty Parquet file (no row group) breaks `datasets` for the
            # whole folder, and an empty jsonl.gz is a file no loader wants
            self.sink.abort()
            return 0, None
        return self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


def _splice(line: bytes, record: dict, note: dict) -> bytes:
    body = line.rstrip()
    extra = dumps(note)  # b'{"cs_score":...}'
    if not record:
        return extra + b"\n"
    return body[:-1] + b"," + extra[1:] + b"\n"


def _with_notes(table: pa.Table, notes: dict | None) -> pa.Table:
    if notes is None:
        return table
    for f in CS_SCHEMA:
        table = table.append_column(f, pa.array(notes[f.name], f.type))
    return table


def _viewless(t: pa.DataType) -> pa.DataType:
    """`t` with string/binary/list views as their large forms: Arrow has no `take` for views
    (Polars writes strings as views), and `datasets` does not read them."""
    if pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return pa.large_list(t.value_field.with_type(_viewless(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_viewless(t.value_type)), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_viewless(t.value_type)))
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_viewless(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_viewless(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_viewless(t.key_type), _viewless(t.item_type), t.keys_sorted)
    return t


def _unview(col: pa.Array, target: pa.DataType) -> pa.Array:
    """`col` as `target`. Casting a list view to a list builds invalid offsets (pyarrow 26:
    a crash or a segfault later), so such columns are rebuilt from their values (rare, and
    only in `filter`)."""
    if col.type == target:
        return col
    if "list_view" in str(col.type):
        return pa.array(col.to_pylist(), type=target)
    return col.cast(target)


def viewless_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` itself when it holds no view type, else a copy with each view made large."""
    types = [_viewless(f.type) for f in schema]
    if all(t == f.type for t, f in zip(types, schema, strict=True)):
        return schema
    return pa.schema([f.with_type(t) for f, t in zip(schema, types, strict=True)],
                     metadata=schema.metadata)  # fmt: skip
