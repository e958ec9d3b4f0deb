"""JSON lines (`.jsonl`, `.ndjson`, most `.json`) and single-document JSON readers.

The line reader is the hot path of the whole tool: lines of the decompressed 4 MB chunks are
found with `bytes.find` and parsed in place (`orjson.loads` on a memoryview slice, no copy),
and records are appended to the batch's parallel lists without per-record objects. Numbering:

* `line`: 1-based physical line number (blank lines included), used in bad-record messages;
* `row`: 0-based index among non-blank lines, so good and bad records map 1:1 to rows.

`.json` files are sniffed: a file starting with `[`, or whose first line is not a JSON value
by itself (pretty-printed), is one JSON document, loaded whole (refused above 512 MB): an
array of records, an object whose values are all objects (records keyed by id; the key is the
default id), or else a single record. Anything else is read as JSON lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import chain

import orjson

from corpus_scan.documents import BadRecord, DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import BatchBuilder, RecordBatch, spread_bytes
from corpus_scan.sources.records import LostPrecision, make_extractor, type_name
from corpus_scan.sources.streams import StreamError, iter_chunks, open_binary

MAX_JSON_DOCUMENT = 512 << 20
_BOM = b"\xef\xbb\xbf"
_JSONDecodeError = orjson.JSONDecodeError
_LONG_INT = re.compile(rb"\d{20}")  # an integer orjson may turn into a float (beyond 64 bits)


def read_jsonl(
    source: Source, opts: ReadOptions, part: tuple[int, int] = (0, 1), *, keep: bool = False
) -> Iterator[DocBatch]:
    """Read a JSON lines shard (optionally gzip/zstd) in batches (or one part of them).

    `keep=True` yields RecordBatch objects holding each document's parsed record and line.
    """
    with open_binary(source.path) as fh:
        chunks = iter_chunks(fh, source.compression)
        yield from read_lines(source.path, chunks, opts, part, keep=keep)


def read_json(source: Source, opts: ReadOptions, *, keep: bool = False) -> Iterator[DocBatch]:
    """Read a `.json` shard: JSON lines or one JSON document, whichever it turns out to be.

    `keep=True` yields RecordBatch objects (records; and lines when read as JSON lines).
    """
    path = source.path
    with open_binary(path) as fh:
        chunks = iter_chunks(fh, source.compression)
        head, ended, broken = _read_head(chunks)
        mode = sniff_json(head, ended and broken is None, opts.text_fields)
        if mode == "lines":
            rest = _raise(broken) if broken is not None else chunks
            yield from read_lines(path, chain([head], rest), opts, keep=keep)
            return
        if broken is not None:
            raise ShardReadError(f"{path}: {broken} (single JSON document, nothing read)")
        data = _read_whole(path, head, chunks)
    yield from _read_document(path, data, opts, keep)


def read_lines(
    path: str,
    chunks: Iterable[bytes],
    opts: ReadOptions,
    part: tuple[int, int] = (0, 1),
    *,
    keep: bool = False,
) -> Iterator[DocBatch]:
    """The JSON lines loop over decompressed chunks (see module docstring for numbering).

    `part=(k, n)` reads only every n-th batch of lines starting at batch k; the other lines
    are counted (so rows stay exact) but not parsed. n workers reading parts 0..n-1 of one
    file together read every record exactly once.

    `keep=True` yields RecordBatch objects: each document's record (the parsed dict) and line
    (bytes, as in the file, without the newline), parallel to `rows`.
    """
    k_part, n_parts = part
    batch_no = 0
    extract = make_extractor(opts, exact_ints=True)
    extract_again = make_extractor(opts)
    size = opts.batch_size if opts.batch_size > 0 else 2048
    loads = orjson.loads
    meter = _Meter()
    new_batch = RecordBatch if keep else DocBatch
    batch = new_batch()
    rows, ids, texts, urls, bad = batch.rows, batch.ids, batch.texts, batch.urls, batch.bad
    row = lineno = pos = start = filled = 0  # filled: records in the current batch
    try:
        for buf, p, end in _segments(chunks, meter):
            view = memoryview(buf)  # lines are parsed in place: no per-line copy
            find = buf.find
            while True:
                nl = find(b"\n", p, end)
                if nl < 0:
                    nl = end
                lineno += 1
                n = nl - p
                # blank lines are not records (cheap test first: most lines start with "{")
                if n == 0 or (buf[p] in _WS and buf[p:nl].isspace()):
                    pos += n + 1
                else:
                    if filled == size:
                        if batch_no % n_parts == k_part:
                            batch.n_bytes = pos - start
                            yield batch
                        batch_no += 1
                        start, filled = pos, 0
                        batch = new_batch()
                        rows, ids, texts, urls = batch.rows, batch.ids, batch.texts, batch.urls
                        bad = batch.bad
                    pos += n + 1
                    filled += 1
                    if batch_no % n_parts != k_part:
                        row += 1  # another part's line: counted for numbering, not parsed
                    else:
                        try:
                            record = loads(view[p:nl])
                        except _JSONDecodeError as e:
                            record = _retry_or_reason(buf[p:nl], lineno, e)
                        if type(record) is dict:
                            try:
                                got = extract(record)
                            except LostPrecision:  # rare: an id beyond 64 bits
                                record = _exact(buf[p:nl], record)
                                got = extract_again(record)
                            if type(got) is str:
                                bad.append(BadRecord(row, lineno, got))
                            else:
                                text, rid, url = got
                                rows.append(row)
                                ids.append(rid if rid is not None else f"{path}:{row}")
                                texts.append(text)
                                urls.append(url)
                                if keep:
                                    batch.records.append(record)  # type: ignore[attr-defined]
                                    batch.raw.append(buf[p:nl])  # type: ignore[attr-defined]
                        elif type(record) is _Reason:
                            bad.append(BadRecord(row, lineno, record))
                        else:
                            reason = f"not a JSON object ({type_name(record)})"
                            bad.append(BadRecord(row, lineno, reason))
                        row += 1
                if nl >= end:
                    break
                p = nl + 1
    except StreamError as e:
        # Keep every record read before the break, then report where it broke.
        if batch_no % n_parts == k_part and (texts or bad or pos > start):
            batch.n_bytes = min(pos, meter.total) - start
            yield batch
        partial = f"; a partial line of {meter.partial} bytes was not read" if meter.partial else ""
        if str(e).startswith("corrupt"):
            # a decompressor fails on a whole block (a gzip checksum on a whole member), so
            # the line where reading stopped is not where the damage is: say what was read
            read = (f"lines 1-{lineno:,} were read, nothing from line {lineno + 1:,} on"
                    if lineno else "no line of it could be read")
            raise ShardReadError(f"{path}: {e}; {read}{partial}") from None
        raise ShardReadError(f"{path}: {e} at line {lineno + 1}{partial}") from None
    end = min(pos, meter.total)  # the last line may lack its newline
    if batch_no % n_parts == k_part and (texts or bad or end > start):
        batch.n_bytes = end - start
        yield batch


_WS = frozenset(b" \t\r\n\x0b\x0c")  # what bytes.isspace() accepts


class _Reason(str):
    """A bad-record reason from `_retry_or_reason` (a str subclass: never a JSON value)."""

    __slots__ = ()


class _Meter:
    """Byte totals seen by `_segments` (for exact n_bytes and failure messages)."""

    __slots__ = ("total", "partial")

    def __init__(self) -> None:
        self.total = 0
        self.partial = 0


def _segments(chunks: Iterable[bytes], meter: _Meter) -> Iterator[tuple[bytes, int, int]]:
    """(buffer, start, end) ranges holding whole lines; each line's newline is implied.

    A chunk is used in place from its first to its last newline; only a line that spans
    chunks is copied (joined once, so a giant line costs no quadratic copying). The range
    after the last newline of the file (no newline at EOF) is yielded last.
    """
    carry: list[bytes] = []
    try:
        for chunk in chunks:
            meter.total += len(chunk)
            last = chunk.rfind(b"\n")
            if last < 0:
                carry.append(chunk)
                continue
            begin = 0
            if carry:
                first = chunk.find(b"\n")
                carry.append(chunk[:first])
                joined = b"".join(carry)
                carry = []
                yield joined, 0, len(joined)
                begin = first + 1
            if begin <= last:
                yield chunk, begin, last
            if last + 1 < len(chunk):
                carry.append(chunk[last + 1 :])
    except StreamError:
        meter.partial = sum(map(len, carry))
        raise
    if carry:
        joined = b"".join(carry)
        yield joined, 0, len(joined)


def _exact(line: bytes, parsed: dict) -> dict:
    """The record parsed by the standard library, which keeps every digit of an integer
    (orjson makes one beyond 64 bits a float); `parsed` if that parser refuses the line."""
    try:
        record = json.loads(line[3:] if line.startswith(_BOM) else line)
    except (ValueError, RecursionError):
        return parsed
    return record if type(record) is dict else parsed


def _retry_or_reason(line: bytes, lineno: int, err: Exception) -> object:
    """Second chance for a line orjson rejected: the record, or a `_Reason` why it is bad."""
    if lineno == 1 and line.startswith(_BOM):  # some writers start the file with a UTF-8 BOM
        try:
            return orjson.loads(line[3:])
        except _JSONDecodeError as e:
            err = e
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return _Reason("invalid UTF-8")
    msg = str(err)
    return _Reason("invalid JSON: " + (msg if len(msg) <= 120 else msg[:117] + "..."))


def _has_two_lines(buf: bytes) -> bool:
    found = 0
    for part in buf.split(b"\n")[:-1]:  # complete lines only
        if part.strip():
            found += 1
            if found == 2:
                return True
    return False


def _read_head(chunks: Iterator[bytes]) -> tuple[bytes, bool, StreamError | None]:
    """Read until two complete non-blank lines are known (or EOF / the size cap).

    Returns (head, reached end of file, stream error met on the way).
    """
    parts: list[bytes] = []
    size = newlines = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            found = chunk.count(b"\n")
            newlines += found
            # join only when two lines may be complete (avoids re-joining a giant first line)
            if found and newlines >= 2 and _has_two_lines(b"".join(parts)):
                return b"".join(parts), False, None
            if size > MAX_JSON_DOCUMENT:
                return b"".join(parts), False, None
    except StreamError as e:
        return b"".join(parts), False, e
    return b"".join(parts), True, None


def _raise(error: StreamError) -> Iterator[bytes]:
    """A chunk source that fails at once (replays a stream error met while sniffing)."""
    raise error
    yield b""  # pragma: no cover - makes this a generator


def sniff_json(head: bytes, ended: bool, text_fields: tuple[str, ...]) -> str:
    """'document' or 'lines' for the start of a `.json` file (see module docstring)."""
    stripped = head.lstrip()
    if stripped.startswith(_BOM):
        stripped = stripped[3:].lstrip()
    lines = [ln for ln in stripped.split(b"\n") if ln.strip()]
    if not ended and lines and not stripped.endswith(b"\n"):
        lines = lines[:-1] if len(lines) > 1 else lines
    if stripped.startswith(b"["):
        # an array on a line of its own followed by objects is JSON lines with a bad first
        # record (one bad record), not a document (which would fail the whole shard)
        if len(lines) > 1:
            try:
                orjson.loads(lines[0])
                if type(orjson.loads(lines[1])) is dict:
                    return "lines"
            except _JSONDecodeError:
                pass
        return "document"
    if not lines:
        return "lines"
    try:
        first = orjson.loads(lines[0])
    except _JSONDecodeError:
        if len(lines) > 1:
            try:
                if type(orjson.loads(lines[1])) is dict:
                    return "lines"  # a bad first record in an otherwise normal JSON lines file
            except _JSONDecodeError:
                pass
        return "document"
    if (
        ended
        and len(lines) == 1
        and type(first) is dict
        and first
        and all(type(v) is dict for v in first.values())
        and not any(f in first for f in text_fields)
    ):
        return "document"  # one minified line holding {"id1": {...}, "id2": {...}}
    return "lines"


def _read_whole(path: str, head: bytes, chunks: Iterator[bytes]) -> bytes:
    parts = [head]
    size = len(head)
    try:
        for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_JSON_DOCUMENT:
                break
    except StreamError as e:
        raise ShardReadError(f"{path}: {e} (single JSON document, nothing read)") from None
    if size > MAX_JSON_DOCUMENT:
        raise ShardReadError(
            f"{path}: single JSON document larger than {MAX_JSON_DOCUMENT >> 20} MB; "
            "convert it to JSON lines to scan it"
        )
    return b"".join(parts)


def _read_document(
    path: str, data: bytes, opts: ReadOptions, keep: bool = False
) -> Iterator[DocBatch]:
    body = data[3:] if data.startswith(_BOM) else data
    try:
        doc = orjson.loads(body)
        if _LONG_INT.search(body):  # the standard library keeps every digit of an integer
            doc = json.loads(body)
    except (_JSONDecodeError, ValueError, RecursionError) as e:
        raise ShardReadError(f"{path}: invalid JSON document: {e}") from None
    del body
    total = len(data)
    del data
    if type(doc) is list:
        records: list[tuple[str | None, object]] = [(None, r) for r in doc]
    elif type(doc) is dict and doc and all(type(v) is dict for v in doc.values()):
        records = [(str(k), v) for k, v in doc.items()]
    else:
        records = [(None, doc)]
    del doc
    extract = make_extractor(opts)
    builder = BatchBuilder(opts.batch_size, keep=keep)
    n = len(records)
    start = 0
    for row, (key, record) in enumerate(records):
        if builder.full():
            yield builder.take(spread_bytes(total, n, start, row))
            start = row
        if type(record) is not dict:
            builder.add_bad(row, None, f"not a JSON object ({type_name(record)})")
            continue
        got = extract(record)
        if type(got) is str:
            builder.add_bad(row, None, got)
        else:
            text, rid, url = got
            kept = None
            if keep:  # a record keyed by id keeps its key as the id field when it has none
                id_key = opts.id_fields[0]
                has_id = key is None or any(k in record for k in opts.id_fields)
                kept = record if has_id else {id_key: key, **record}
            builder.add(row, rid or key or f"{path}:{row}", text, url, kept)
    yield builder.take(spread_bytes(total, n, start, n))
