"""WARC and WET readers (warcio), with HTML turned into plain text by selectolax/lexbor.

Records that become rows (documents or bad records):

* `response` (and `resource`) records: HTML payloads → text; anything else is a bad record
  with `skipped=True` ("non-HTML payload (image/png)"), as is a non-2xx HTTP status
  ("HTTP status 404": error and redirect pages are not page content);
* `conversion` records (WET): the payload is already text (decoded like `.txt` files).

`warcinfo`, `request`, `metadata` and `revisit` records are not rows. id = WARC-Record-ID,
url = WARC-Target-URI. Compressed files are decompressed by `streams` (ISA-L, exact byte
counts, loud truncation) and handed to warcio as plain WARC. A record warcio cannot parse
ends the shard with a `ShardReadError` after the batches read so far.

HTML to text: script/style/noscript/template/svg subtrees are dropped, a marker is placed
around block elements, and whitespace is collapsed the way a browser renders it, so the text
has one line per block and inline tags do not split phrases ("shut <b>down</b>").
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from corpus_scan.documents import DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import MAX_DOC_BYTES, BatchBuilder
from corpus_scan.sources.plaintext import decode_text
from corpus_scan.sources.streams import ChunkReader, StreamError, iter_chunks, open_binary

_DROP = ["script", "style", "noscript", "template", "svg", "iframe", "object"]
_BLOCKS = (
    "p,div,br,li,dd,dt,h1,h2,h3,h4,h5,h6,tr,td,th,caption,table,section,article,header,footer,"
    "nav,aside,main,blockquote,pre,title,hr,form,figure,figcaption,address,option,textarea"
)
_MARK = "\u2029"  # paragraph separator: never collapsed with ordinary whitespace below
# What warcio raises on malformed records (seen: AttributeError on a response without URI).
_WARCIO_ERRORS = (ArchiveLoadFailed, ValueError, AttributeError, TypeError, IndexError, KeyError)
_ROW_TYPES = frozenset({"response", "resource", "conversion"})
_OTHER_TYPES = frozenset({"warcinfo", "request", "metadata", "revisit", "continuation"})
_HTML_SNIFF = (b"<!doctype html", b"<html", b"<head", b"<body")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET = re.compile(r"charset\s*=\s*([^;\s]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([a-zA-Z0-9_.:-]+)", re.I)
# WHATWG: these labels are decoded with the superset encoding by every browser
_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "big5": "big5hkscs",
}


def decode_html(payload: bytes, content_type: str | None = None) -> str:
    """HTML bytes to str: BOM, else the HTTP charset, else <meta charset>, else UTF-8/cp1252.

    Done here rather than by lexbor because Python's codecs know the supersets browsers
    actually use for common labels (GB2312 pages are GBK/GB18030, Latin-1 pages are cp1252).
    Undecodable bytes become U+FFFD, as in a browser: unlike plain-text files, a web page
    with a few stray bytes is still that web page.
    """
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            return payload[len(bom) :].decode(codec, errors="replace")
    match = _CHARSET.search(content_type or "") or _META_CHARSET.search(payload[:2048])
    if match:
        label = match.group(1)
        if isinstance(label, bytes):
            label = label.decode("ascii", "replace")
        label = label.strip("\"' ").lower()
        codec = _ALIASES.get(label, label)
        try:
            codecs.lookup(codec)
        except LookupError:
            pass
        else:
            return payload.decode(codec, errors="replace")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace")


def html_to_text(html: bytes | str, content_type: str | None = None) -> str:
    """Visible text of an HTML page, one line per block element."""
    if isinstance(html, bytes):
        html = decode_html(html, content_type)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROP, recursive=True)
    for node in tree.css(_BLOCKS):
        node.insert_before(_MARK)
        node.insert_after(_MARK)
    root = tree.root
    if root is None:
        return ""
    lines = (" ".join(part.split()) for part in root.text().split(_MARK))
    return "\n".join(line for line in lines if line)


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_html(mime: str, payload: bytes) -> bool:
    if mime:
        return "html" in mime  # text/html, application/xhtml+xml
    head = payload[:1024].lstrip().lower()
    return head.startswith(_HTML_SNIFF)


def _read_payload(record) -> bytes:  # type: ignore[no-untyped-def]
    """The record's payload (HTTP transfer/content encodings undone), capped in size."""
    data = record.content_stream().read(MAX_DOC_BYTES + 1)
    if len(data) > MAX_DOC_BYTES:
        raise ValueError(f"payload over {MAX_DOC_BYTES >> 20} MB")
    return data


def _add_record(builder: BatchBuilder, row: int, record, path: str) -> None:  # type: ignore[no-untyped-def]
    headers = record.rec_headers
    rid = headers.get_header("WARC-Record-ID") or ""
    url = headers.get_header("WARC-Target-URI") or None
    if record.rec_type == "conversion":
        try:
            payload = _read_payload(record)
        except StreamError:
            raise  # the file is broken, not just this record
        except Exception as e:  # noqa: BLE001 - any payload decoding problem is per record
            builder.add_bad(row, None, f"unreadable payload ({e})")
            return
        text, reason = decode_text(payload)
        if text is None:
            builder.add_bad(row, None, reason or "undecodable")
            return
        text = text.strip()
    else:
        http = record.http_headers
        if http is not None:
            status = http.get_statuscode()
            if status and not status.startswith("2"):
                builder.add_bad(row, None, f"HTTP status {status}", skipped=True)
                return
            content_type = http.get_header("Content-Type")
        else:
            content_type = record.content_type
        mime = _mime(content_type)
        try:
            payload = _read_payload(record)
        except StreamError:
            raise
        except Exception as e:  # noqa: BLE001 - broken chunked/gzip payloads are per record
            builder.add_bad(row, None, f"unreadable payload ({e})")
            return
        if not _is_html(mime, payload):
            builder.add_bad(row, None, f"non-HTML payload ({mime or 'unknown'})", skipped=True)
            return
        try:
            text = html_to_text(payload, content_type)
        except Exception as e:  # noqa: BLE001 - one odd page must not end the shard
            builder.add_bad(row, None, f"HTML to text failed ({type(e).__name__})")
            return
    builder.add(row, rid or f"{path}:{row}", text, url)


def read_warc(source: Source, opts: ReadOptions) -> Iterator[DocBatch]:
    """Read a WARC or WET shard (plain or gzip, per-record or whole-file compressed)."""
    path = source.path
    builder = BatchBuilder(opts.batch_size)
    row = 0
    reported = 0
    with open_binary(path) as fh:
        stream = ChunkReader(iter_chunks(fh, source.compression))
        records = iter(ArchiveIterator(stream, ensure_http_headers=False))
        while True:
            try:
                record = next(records, None)
                if record is None:
                    stream.drain()
                    break
                if record.rec_type in _OTHER_TYPES:
                    continue
                if record.rec_type not in _ROW_TYPES:
                    raise ArchiveLoadFailed(f"record without a valid WARC-Type ({record.rec_type})")
                if builder.full():
                    yield builder.take(stream.consumed - reported)
                    reported = stream.consumed
                _add_record(builder, row, record, path)
                row += 1
            except StreamError as e:
                yield builder.take(stream.consumed - reported)
                raise ShardReadError(f"{path}: {e} after {row} WARC records") from None
            except _WARCIO_ERRORS as e:  # warcio fails on malformed input with many types
                yield builder.take(stream.consumed - reported)
                msg = " ".join(str(e).split())[:200] or type(e).__name__
                raise ShardReadError(
                    f"{path}: broken WARC record after {row} records ({msg})"
                ) from None
    if builder.count() or stream.consumed > reported:
        yield builder.take(stream.consumed - reported)
