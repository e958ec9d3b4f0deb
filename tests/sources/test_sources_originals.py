"""read_records: the scan's readers, with each document's original record kept alongside."""

from __future__ import annotations

import gzip
import io
import tarfile

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_scan.documents import ReadOptions
from corpus_scan.sources.originals import RecordBatch, read_records

OPTS = ReadOptions(batch_size=3)


def _records(source, opts=OPTS) -> list[RecordBatch]:
    batches = list(read_records(source, opts))
    assert all(isinstance(b, RecordBatch) for b in batches)
    return batches


def _same_as_scan(h, source, batches: list[RecordBatch]) -> None:
    scan = h.collect(source, OPTS)
    assert scan.error is None
    assert [r for b in batches for r in b.rows] == scan.rows
    assert [t for b in batches for t in b.texts] == scan.texts
    assert [i for b in batches for i in b.ids] == scan.ids
    assert [(x.row, x.reason) for b in batches for x in b.bad] == [
        (x.row, x.reason) for x in scan.bad
    ]


def test_jsonl_keeps_records_and_lines(h, write):
    lines = [
        b'{"id": "a", "text": "one",  "n": 1}',
        b"",
        b"{broken",
        b'{"text": "two", "meta": {"k": [1, 2]}}\r',
        b'{"no_text": 1}',
        b'{"text": "", "x": null}',
        b'{"text": "four"}',
    ]
    path = write("a.jsonl.gz", gzip.compress(b"\n".join(lines)))
    source = h.source_for(path)
    batches = _records(source)
    _same_as_scan(h, source, batches)
    raw = [x for b in batches for x in b.raw]
    assert raw == [lines[0], lines[3], lines[5], lines[6]]  # as in the file, blank lines skipped
    recs = [x for b in batches for x in b.records]
    assert recs == [orjson.loads(x) for x in raw]
    texts = [t for b in batches for t in b.texts]
    assert all(r["text"] is t for r, t in zip(recs, texts, strict=True))  # the same string


def test_json_document_records_and_keyed_ids(h, write):
    doc = {"k1": {"articleBody": "first"}, "k2": {"articleBody": "second", "id": "own"}}
    source = h.source_for(write("d.json", orjson.dumps(doc, option=orjson.OPT_INDENT_2)))
    batches = _records(source)
    _same_as_scan(h, source, batches)
    recs = [x for b in batches for x in b.records]
    assert recs == [{"id": "k1", "articleBody": "first"}, {"articleBody": "second", "id": "own"}]
    assert all(not b.raw for b in batches)


def test_parquet_batches_carry_every_column(h, tmp_path):
    table = pa.table(
        {
            "text": ["a", None, "c", "d", "e"],
            "n": [1, 2, 3, 4, 5],
            "s": [{"x": i} for i in range(5)],
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=2)
    source = h.source_for(path)
    batches = _records(source)
    _same_as_scan(h, source, batches)
    for b in batches:
        assert b.arrow is not None and b.records == []
        assert b.arrow.schema.names == ["text", "n", "s"]
        for row, text in zip(b.rows, b.texts, strict=True):
            assert b.arrow.column("text")[row - b.first_row].as_py() == text
    assert sum(b.arrow.num_rows for b in batches) == 5


@pytest.mark.parametrize("headerless", [False, True])
def test_csv_records_hold_every_column(h, write, headerless):
    if headerless:
        raw = (
            b'"3","Fears for pension after talks","Unions representing workers say they are sad"\n'
            b'"4","The Race is On","Second private team sets launch date for human spaceflight"\n'
        )
    else:
        raw = b"id,title,text,extra\n1,t1,hello,x\n2,t2\n3,t3,,z\n4,t4,caf\xc3\xa9,w\n"
    source = h.source_for(write("c.csv", raw))
    batches = _records(source)
    _same_as_scan(h, source, batches)
    recs = [x for b in batches for x in b.records]
    texts = [t for b in batches for t in b.texts]
    if headerless:
        assert [set(r) for r in recs] == [{"f0", "f1", "f2", "text"}] * 2
        assert recs[0]["f0"] == "3" and recs[0]["text"] == texts[0]
    else:
        assert recs == [
            {"id": "1", "title": "t1", "text": "hello", "extra": "x"},
            {"id": "3", "title": "t3", "text": "", "extra": "z"},
            {"id": "4", "title": "t4", "text": "café", "extra": "w"},
        ]


def test_plain_formats_get_id_text_url_records(h, write):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("m1.txt", b"first"), ("m2.png", b"\x89PNG\r\n\x1a\n\x00\x00")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    for path in (write("t.tar", buf.getvalue()), write("x.txt", b"just text")):
        source = h.source_for(path)
        batches = _records(source)
        _same_as_scan(h, source, batches)
        recs = [x for b in batches for x in b.records]
        ids = [i for b in batches for i in b.ids]
        assert recs == [{"id": ids[0], "text": recs[0]["text"], "url": None}]
