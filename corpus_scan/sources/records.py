"""Turning one parsed record (a dict) into a document: text, id and url selection rules.

Shared by the JSON lines, JSON document and hub readers so every format applies the same rules:

* text: the first of `opts.text_fields` present in the record with a *string* value; a text
  that is empty or whitespace-only is still a document (so document counts match the input);
  if no text field holds a string the reason names the first one present ("field 'text' is
  null", "field 'text' is not a string (int)") or, when none is present, the first
  configured field, listing the others tried ("field 'text' missing (nor content, ...)").
* id: the first of `opts.id_fields` (`--id-field a,b`) present, not null and not empty, as
  text: strings as they are, numbers as written, `true`/`false`, objects and arrays as JSON;
  otherwise the caller's default (`<path>:<row>`, or the key of a JSON object mapping ids to
  records). orjson reads an integer beyond 64 bits as a float: with `exact_ints`, such an id
  raises `LostPrecision` so that the caller parses the line again with the standard library.
* url: the first of `opts.url_fields` holding a non-empty string, else None.

Field names may be dotted paths (`metadata.url`): a literal key with the dots wins, otherwise
nested objects are walked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from corpus_scan.documents import ReadOptions

MISSING: Any = object()
_INT64 = float(2**63)


class LostPrecision(Exception):
    """An id that orjson read as a float may have been an integer beyond 64 bits."""


def id_text(value: object, exact_ints: bool = False) -> str:
    """An id value as text, spelled as JSON spells it (see the module doc)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        if exact_ints and value.is_integer() and abs(value) >= _INT64:  # type: ignore[union-attr]
            raise LostPrecision
        return repr(value)
    if kind is dict or kind is list:
        return orjson.dumps(value).decode()
    return str(value)

# (text, id or None when the record has none, url) on success; a short reason string when bad.
Extracted = tuple[str, str | None, str | None] | str


def column_list(names: list[str]) -> str:
    """Column names for a one-line error: a name with a line break or other control character
    (a CSV header cell can hold one) is quoted, so the message stays one line."""
    return ", ".join(n if n.isprintable() else repr(n) for n in names) or "none"


def type_name(value: object) -> str:
    """Python type name for messages, with JSON's `null` for None."""
    return "null" if value is None else type(value).__name__


def make_getter(field: str) -> Callable[[dict], Any] | None:
    """None for a plain key (callers use dict.get inline: fastest); a walker for dotted paths."""
    if "." not in field:
        return None
    parts = field.split(".")

    def get(record: dict) -> Any:
        value = record.get(field, MISSING)
        if value is not MISSING:
            return value
        node: Any = record
        for part in parts:
            if type(node) is not dict:
                return MISSING
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        return node

    return get


def text_problem(fields: tuple[str, ...], first_bad: tuple[str, Any] | None) -> str:
    """The bad-record reason when no text field of a record holds a string."""
    if first_bad is None:
        others = f" (nor {', '.join(fields[1:])})" if len(fields) > 1 else ""
        return f"field '{fields[0] if fields else 'text'}' missing{others}"
    name, value = first_bad
    if value is None:
        return f"field '{name}' is null"
    return f"field '{name}' is not a string ({type_name(value)})"


ALL_STRINGS = "*"  # a text field meaning "every string value of the record, joined"


def all_strings(value: Any, out: list[str]) -> list[str]:
    """The record's string leaves in document order (chat logs, nested payloads)."""
    if type(value) is str:
        if value.strip():
            out.append(value)
    elif type(value) is dict:
        for v in value.values():
            all_strings(v, out)
    elif type(value) is list:
        for v in value:
            all_strings(v, out)
    return out


def make_extractor(opts: ReadOptions, exact_ints: bool = False) -> Callable[[dict], Extracted]:
    """A function applying the text/id/url rules of `opts` to one dict record.

    Called once per record on the hot path, so it is a closure (no attribute lookups) and the
    common case (first text field is a plain key holding a string) takes a few dict probes.
    """
    fields = tuple(opts.text_fields)
    texts = [(f, make_getter(f)) for f in fields]
    first = fields[0] if fields and "." not in fields[0] and fields[0] != ALL_STRINGS else None
    id_keys = opts.id_fields
    id_key, id_get = id_keys[0], make_getter(id_keys[0])
    more_ids = [(k, make_getter(k)) for k in id_keys[1:]]
    # Url fields: (key, None) for plain keys; (literal, path) for dotted ones, walked inline.
    urls = [(f, f.split(".") if "." in f else None) for f in opts.url_fields]
    # Most records have no url field at all: one C-level set probe replaces the Python loop.
    url_keys = frozenset(opts.url_fields) | {f.split(".", 1)[0] for f in opts.url_fields}

    def slow_text(record: dict) -> tuple[str | None, str]:
        """(text, "") or (None, reason): the full rule, when the first field is no string."""
        first_bad = None
        for name, get in texts:
            if name == ALL_STRINGS:
                return "\n".join(all_strings(record, [])), ""
            value = record.get(name, MISSING) if get is None else get(record)
            if value is MISSING:
                continue
            if type(value) is str:
                return value, ""
            if first_bad is None:
                first_bad = (name, value)
        return None, text_problem(fields, first_bad)

    def extract(record: dict) -> Extracted:
        text = record.get(first) if first is not None else None
        if type(text) is not str:
            text, reason = slow_text(record)
            if text is None:
                return reason

        rid = record.get(id_key) if id_get is None else id_get(record)
        if type(rid) is not str:
            rid = None if rid is None or rid is MISSING else id_text(rid, exact_ints)
        elif not rid:
            rid = None
        if rid is None and more_ids:
            for key, get in more_ids:
                value = record.get(key) if get is None else get(record)
                if value is not None and value is not MISSING and value != "":
                    rid = value if type(value) is str else id_text(value, exact_ints)
                    break

        url = None
        if not url_keys.isdisjoint(record):
            for key, path in urls:
                value = record.get(key)
                if value is None and path is not None:
                    value = record
                    for part in path:
                        if type(value) is not dict:
                            value = None
                            break
                        value = value.get(part)
                if type(value) is str and value:
                    url = value
                    break
        return text, rid, url

    return extract
