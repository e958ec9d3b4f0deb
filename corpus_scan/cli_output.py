"""How `corpus-scan sql` prints a result: CSV and JSON for machines, a table for people."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from decimal import Decimal


def csv_line(row: Sequence[object]) -> str:
    """One CSV record ending in LF (a Unix pipe wants LF, not CRLF). The writer runs with a CRLF
    terminator because it quotes fields holding any terminator character: with LF alone, a bare
    CR inside a field would go out unquoted and split the record for RFC 4180 readers."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([csv_field(v) for v in row])
    return buf.getvalue()[:-2] + "\n"


def csv_field(value: object) -> object:
    """Nested values (spans, embeddings, terms) as JSON text, not Python reprs."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(json_safe(value), default=json_default, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.hex()
    return value


def json_default(value: object) -> object:
    """Decimal as a number, bytes as hex, anything else (dates, UUIDs) as its text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def json_safe(value: object) -> object:
    """NaN and infinities as null, also inside lists and structs: JSON has no literal for them
    (`NaN` breaks strict parsers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def cell(value: object, width: int) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names with repeats suffixed `_1`, `_2`, ... (`SELECT c.n, s.n` -> n, n_1)."""
    taken = set(names)
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        new, k = name, 0
        while new in seen or (k and new in taken):  # never take a name a later column has
            k += 1
            new = f"{name}_{k}"
        seen.add(new)
        out.append(new)
    return out
