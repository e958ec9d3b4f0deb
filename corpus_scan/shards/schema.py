"""One Arrow schema for a shard of dict records (JSON, CSV, hub), and records → Arrow tables.

Parquet needs one schema per file, but JSON records need not agree with each other. The
schema is inferred over the whole shard (`SchemaInference.add` per batch, before writing):

* fields in order of first appearance; a record missing a field gets null;
* per field, Arrow's type of each batch's values, unified across batches with
  `pa.unify_schemas(promote_options="permissive")` (int + float → double, structs merge
  their fields, null + anything → anything);
* a field whose values cannot share one type (a number here, a string there; an integer
  beyond 64 bits; an object with no keys) becomes a string column (`json_fields`): strings
  stay as they are, other values are written as JSON text, null stays null. So a text is
  always the very same string, whatever its neighbours hold.

`to_table` converts records with that schema. `json_default` lets orjson write the values
Arrow hands back for Parquet inputs (bytes as base64, decimals and other non-JSON values as
their text).
"""

from __future__ import annotations

import base64
import decimal
import json
from typing import Any

import orjson
import pyarrow as pa

from corpus_scan.documents import InputError

_ARROW_ERRORS = (pa.ArrowException, OverflowError, TypeError, ValueError)


class SchemaInference:
    """Accumulates the unified type of every field over a shard's record batches."""

    def __init__(self) -> None:
        self.types: dict[str, pa.DataType] = {}  # insertion order = first appearance
        self.json_fields: set[str] = set()

    def add(self, records: list[dict[str, Any]]) -> None:
        keys = dict.fromkeys(k for r in records for k in r)
        for key in keys:
            if key in self.json_fields:
                continue
            try:
                typ = pa.array([r.get(key) for r in records]).type
            except _ARROW_ERRORS:
                self._as_json(key)
                continue
            old = self.types.get(key)
            if old is None:
                self.types[key] = typ
            elif old != typ:
                try:
                    merged = pa.unify_schemas(
                        [pa.schema([(key, old)]), pa.schema([(key, typ)])],
                        promote_options="permissive",
                    )
                except _ARROW_ERRORS:
                    self._as_json(key)
                    continue
                self.types[key] = merged.field(key).type

    def _as_json(self, key: str) -> None:
        self.json_fields.add(key)
        self.types[key] = pa.string()

    def schema(self, exclude: frozenset[str] = frozenset()) -> pa.Schema:
        """The unified schema (fields in `exclude` left out)."""
        for key, typ in list(self.types.items()):
            if key not in self.json_fields and _has_empty_struct(typ):
                self._as_json(key)  # Parquet cannot store a struct without fields
        return pa.schema([(k, t) for k, t in self.types.items() if k not in exclude])


def _has_empty_struct(typ: pa.DataType) -> bool:
    if pa.types.is_struct(typ):
        return typ.num_fields == 0 or any(_has_empty_struct(f.type) for f in typ)
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        return _has_empty_struct(typ.value_type)
    if pa.types.is_map(typ):
        return _has_empty_struct(typ.key_type) or _has_empty_struct(typ.item_type)
    return False


def to_table(
    records: list[dict[str, Any]], schema: pa.Schema, json_fields: set[str] | frozenset[str]
) -> pa.Table:
    """Records as a table of exactly `schema` (missing fields null; JSON-encoded fields)."""
    arrays = []
    for f in schema:
        values = [r.get(f.name) for r in records]
        if f.name in json_fields:
            values = [v if v is None or type(v) is str else dumps(v).decode() for v in values]
        try:
            arrays.append(pa.array(values, type=f.type))
        except _ARROW_ERRORS as e:  # inference saw every value, so this is not expected
            msg = str(e).splitlines()[0][:200]
            why = f"field {f.name!r} does not fit its inferred type {f.type}: {msg}"
            raise InputError(why) from None
    return pa.Table.from_arrays(arrays, schema=schema)


def json_default(value: object) -> object:
    """orjson fallback for values that JSON has no type for."""
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)  # e.g. a timedelta: its text rather than a failed shard


def dumps(value: object) -> bytes:
    """JSON bytes for a record or value (strings verbatim; see json_default)."""
    try:
        return orjson.dumps(value, default=json_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits, which only the json module writes
        text = json.dumps(value, default=json_default, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", errors="surrogatepass")
