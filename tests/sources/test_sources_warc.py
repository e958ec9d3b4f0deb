"""WARC / WET readers on small archives written with warcio's WARCWriter."""

from __future__ import annotations

import gzip
import io

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpus_scan.documents import ReadOptions
from corpus_scan.sources.warc import html_to_text

PAGE = (
    b"<html><head><title>The Title</title><style>.x{color:red}</style>"
    b"<script>var s = '<div>not text</div>';</script></head>"
    b"<body><div>The AI refused to <b>shut down</b>.</div><p>Second   block</p>"
    b"<noscript>enable js</noscript><ul><li>one</li><li>two</li></ul></body></html>"
)


def _response(writer, uri, body, content_type, status="200 OK"):
    http = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    return writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http)


def _warc(gz: bool, extra: list[tuple] | None = None) -> bytes:
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    w.write_record(w.create_warcinfo_record("x.warc", {"software": "test"}))
    req = StatusAndHeaders("GET / HTTP/1.1", [("Host", "a.example")], is_http_request=True)
    w.write_record(w.create_warc_record("http://a.example/", "request", http_headers=req))
    w.write_record(_response(w, "http://a.example/", PAGE, "text/html; charset=utf-8"))
    w.write_record(_response(w, "http://a.example/logo.png", b"\x89PNG\r\n", "image/png"))
    w.write_record(_response(w, "http://a.example/missing", b"<html>404</html>", "text/html",
                             "404 Not Found"))  # fmt: skip
    gbk = "<html><body><p>請使用 Ctrl+D 收藏</p></body></html>".encode("gbk")
    w.write_record(_response(w, "http://b.example/", gbk, "text/html; charset=gb2312"))
    meta = w.create_warc_record("http://a.example/", "metadata", payload=io.BytesIO(b"k: v"))
    w.write_record(meta)
    w.write_record(_response(w, "http://c.example/", b"<html><body> </body></html>", "text/html"))
    for rec in extra or []:
        w.write_record(rec(w))
    return buf.getvalue()


def test_html_to_text_blocks_and_inline():
    text = html_to_text(PAGE, "text/html")
    assert text == "The Title\nThe AI refused to shut down.\nSecond block\none\ntwo"


@pytest.mark.parametrize(("name", "gz"), [("a.warc", False), ("a.warc.gz", True)])
def test_warc_records(h, write, name, gz):
    data = _warc(gz)
    path = write(name, data)
    res = h.collect(h.source_for(path), ReadOptions(batch_size=2))
    assert res.error is None
    assert res.texts[0] == "The Title\nThe AI refused to shut down.\nSecond block\none\ntwo"
    assert res.texts[1] == "請使用 Ctrl+D 收藏"
    assert res.texts[2] == ""  # a page with no visible text is still a document
    assert res.urls == ["http://a.example/", "http://b.example/", "http://c.example/"]
    assert all(i.startswith("<urn:uuid:") for i in res.ids)
    assert res.rows == [0, 3, 4]
    assert [(b.row, b.reason, b.skipped) for b in res.bad] == [
        (1, "non-HTML payload (image/png)", True),
        (2, "HTTP status 404", True),
    ]
    assert res.n_bytes == len(gzip.decompress(data) if gz else data)


def test_wet_conversion_records(h, write):
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    w.write_record(w.create_warcinfo_record("x.wet", {"software": "test"}))
    for i, body in enumerate([b"plain text one", "zwei \u00fc".encode(), b"   "]):
        w.write_record(
            w.create_warc_record(
                f"http://w.example/{i}",
                "conversion",
                payload=io.BytesIO(body),
                warc_content_type="text/plain",
            )
        )
    path = write("a.warc.wet.gz", buf.getvalue())
    res = h.collect(h.source_for(path))
    assert res.texts == ["plain text one", "zwei \u00fc", ""]  # blank payload: empty document
    assert res.urls == ["http://w.example/0", "http://w.example/1", "http://w.example/2"]
    assert res.bad == []


def test_truncated_warc_gz(h, write):
    extra = [
        (lambda w, i=i: _response(w, f"http://x/{i}", PAGE * 50, "text/html")) for i in range(40)
    ]
    data = _warc(True, extra)
    res = h.collect(h.source_for(write("t.warc.gz", data[: len(data) * 2 // 3])))
    assert res.error is not None and "t.warc.gz" in str(res.error)
    assert len(res.texts) > 2
    assert res.all_rows() == list(range(len(res.all_rows())))


@pytest.mark.parametrize(
    "tail",
    [
        b"WARC/1.0\r\nthis is not a header line\r\n\r\n" + b"garbage" * 10,
        b"garbage" * 10,
        b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 5\r\n\r\nshort",  # no URI
    ],
)
def test_broken_record_header(h, write, tail):
    data = _warc(False) + tail
    res = h.collect(h.source_for(write("b.warc", data)))
    assert res.error is not None and "b.warc" in str(res.error)
    assert len(res.texts) == 3  # everything before the broken record was delivered
