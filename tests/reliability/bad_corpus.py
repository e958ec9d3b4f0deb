"""A corpus of hostile and broken inputs, one file per problem, with what a scan must record.

`EXPECT` says, per file name, what a scan must record: the shard's status, documents, bad
records (row, line, reason fragment), non-document records, and what the error or skip reason
must mention; `build(root)` writes the files. Used by test_bad_input.py.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from corpus_fixtures import NEGATIVE_AI, POSITIVE
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass
class Expect:
    status: str | None  # shards.status; None: not a shard (skipped input)
    n_docs: int | None = 0  # None: some (a broken stream: the records before the break)
    bad: list[tuple[int, int | None, str]] = field(default_factory=list)  # row, line, reason
    n_skipped: int = 0  # non-document records (WARC)
    message: tuple[str, ...] = ()  # fragments of shards.error / skipped_inputs.reason
    candidate_rows: tuple[int, ...] = ()  # rows that must be prefilter candidates


def _lines(*items: bytes) -> bytes:
    return b"\n".join(items) + b"\n"


def _doc(text: str, **extra: object) -> bytes:
    return orjson.dumps({"text": text, **extra})


def _truncated(records: int, compress) -> bytes:
    """A compressed JSON lines stream cut at two thirds."""
    raw = b"".join(_doc(f"record {i} " + "x" * 60) + b"\n" for i in range(records))
    packed = compress(raw)
    return packed[: len(packed) * 2 // 3]


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _warc() -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=False)

    def response(uri: str, body: bytes, ctype: str, status: str = "200 OK") -> None:
        http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
        rec = w.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http)
        w.write_record(rec)

    response(
        "http://a.example/", f"<html><body><p>{POSITIVE}</p></body></html>".encode(), "text/html"
    )
    response("http://a.example/logo.png", b"\x89PNG\r\n\x1a\n\0\0", "image/png")
    response("http://a.example/data.json", b'{"a": 1}', "application/json")
    response("http://a.example/gone", b"<html>404</html>", "text/html", "404 Not Found")
    response("http://b.example/", b"<html><body>second page</body></html>", "text/html")
    # then a record whose header block is garbage: the reader stops there, naming the file
    return buf.getvalue() + b"WARC/1.0\r\nthis is not a header line\r\n\r\n" + b"junk" * 20


# name -> what the scan must record; `build` writes the files
EXPECT: dict[str, Expect] = {
    # JSON lines: every kind of bad record, counted with its row and line
    "records.jsonl": Expect(
        "done",
        n_docs=3,
        bad=[
            (1, 2, "invalid JSON"),
            (2, 3, "not a JSON object (list)"),
            (3, 4, "not a JSON object (str)"),
            (4, 5, "not a JSON object (int)"),
            (5, 6, "not a JSON object (null)"),
            (6, 7, "field 'text' missing (nor content, contents, articleBody, body, "
              "document, raw_content)"),
            (7, 8, "field 'text' is null"),
            (8, 9, "field 'text' is not a string (float)"),
            (9, 10, "invalid UTF-8"),
            (10, 11, "invalid JSON: unexpected control character"),
        ],
        candidate_rows=(0, 11),
    ),
    # broken compressed streams: the records before the break are kept, the shard failed
    "truncated.jsonl.gz": Expect("failed", n_docs=None, message=("truncated gzip", "at line")),
    "truncated.jsonl.zst": Expect("failed", n_docs=None, message=("truncated zstd", "at line")),
    # empty inputs
    "empty.jsonl": Expect(None, message=("empty file",)),
    "zero.parquet": Expect(None, message=("empty file",)),
    "blank-lines.jsonl": Expect("done"),
    # Parquet that cannot be read as documents
    "corrupt.parquet": Expect("failed", message=("not a readable Parquet file",)),
    "no-text-column.parquet": Expect("failed", message=("no text column", "columns: title, n")),
    # WARC: non-HTML and non-2xx responses are not documents; a broken header ends the shard
    "site.warc": Expect(
        "failed",
        n_docs=2,
        n_skipped=3,
        bad=[
            (1, None, "non-HTML payload (image/png)"),
            (2, None, "non-HTML payload (application/json)"),
            (3, None, "HTTP status 404"),
        ],
        message=("broken WARC record after 5 records",),
        candidate_rows=(0,),
    ),
    # CSV with ragged rows
    "ragged.csv": Expect(
        "done",
        n_docs=2,
        bad=[(1, 3, "ragged row (4 fields, expected 2)"), (2, 4, "ragged row (1 fields")],
        candidate_rows=(3,),
    ),
    # plain text: NUL bytes in otherwise valid UTF-8 are a document; binary content is not
    "nul bytes.txt": Expect("done", n_docs=1, candidate_rows=(0,)),
    "image.txt": Expect("done", bad=[(0, None, "binary content (not text)")]),
    # a file name with spaces and Unicode
    "news ünïcode 新闻 (1).jsonl": Expect("done", n_docs=2, candidate_rows=(0,)),
    # a symlink loop and a broken symlink: listed as skipped, never followed forever
    "loop/inner.jsonl": Expect("done", n_docs=1),
    "loop/again": Expect(None, message=("folder already visited",)),
    "dangling.jsonl": Expect(None, message=("broken symlink",)),
}


def build(root: Path) -> Path:
    """Write every file of EXPECT under `root` (absolute paths: symlinks point inside it)."""
    root = root.resolve()
    root.mkdir(parents=True)
    files = {
        "records.jsonl": _lines(
            _doc(POSITIVE, id="good-0"),  # row 0, line 1
            b"{not json",  # row 1
            b"[1, 2, 3]",  # row 2: a JSON value that is not an object
            b'"just a string"',  # row 3
            b"42",  # row 4
            b"null",  # row 5
            b'{"id": "no-text"}',  # row 6: text field missing
            b'{"text": null}',  # row 7
            b'{"text": 12.5}',  # row 8: a number
            b'{"text": "caf\xe9 latin-1"}',  # row 9: invalid UTF-8
            b'{"text": "raw \x00 NUL byte"}',  # row 10: a raw control byte is invalid JSON
            b"",  # line 12: blank, not a record
            _doc(f"escaped \u0000 NUL inside {POSITIVE}", id="nul-ok"),  # row 11: a document
            b"   ",  # line 14: blank
            _doc("", id="empty-text"),  # row 12: an empty text is a document
        ),
        "truncated.jsonl.gz": _truncated(4000, gzip.compress),
        "truncated.jsonl.zst": _truncated(4000, zstandard.ZstdCompressor().compress),
        "empty.jsonl": b"",
        "zero.parquet": b"",
        "blank-lines.jsonl": b"\n  \n\t\n",
        "corrupt.parquet": b"PAR1" + b"\0" * 40,
        "no-text-column.parquet": _parquet(pa.table({"title": ["a", "b"], "n": [1, 2]})),
        "site.warc": _warc(),
        "ragged.csv": b'id,text\n1,first row\n2,too,many,fields\n3\n4,"'
        + POSITIVE.encode()
        + b'"\n',
        "nul bytes.txt": f"{POSITIVE}\x00\x00 trailing".encode(),
        "image.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff",
        "news ünïcode 新闻 (1).jsonl": _lines(_doc(POSITIVE, id="u0"), _doc(NEGATIVE_AI, id="u1")),
        "loop/inner.jsonl": _lines(_doc("inside the loop")),
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    os.symlink(root / "loop", root / "loop" / "again")
    os.symlink(root / "nowhere.jsonl", root / "dangling.jsonl")
    assert set(files) | {"loop/again", "dangling.jsonl"} == set(EXPECT)
    return root
