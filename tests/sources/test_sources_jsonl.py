"""JSON lines and single-document JSON readers."""

from __future__ import annotations

import gzip

import orjson
import pytest

from corpus_scan.documents import ReadOptions, Source

COMPRESSIONS = [("", None), (".gz", "gzip"), (".zst", "zstd")]


@pytest.mark.parametrize(("suffix", "comp"), COMPRESSIONS)
def test_good_records_all_compressions(h, write, suffix, comp):
    records = [{"id": f"d{i}", "text": f"document {i}", "url": f"http://x/{i}"} for i in range(10)]
    raw = h.jsonl_bytes(records)
    path = write(f"a.jsonl{suffix}", h.compress(raw, comp))
    res = h.collect(h.source_for(path))
    assert res.error is None
    assert res.texts == [f"document {i}" for i in range(10)]
    assert res.ids == [f"d{i}" for i in range(10)]
    assert res.urls == [f"http://x/{i}" for i in range(10)]
    assert res.rows == list(range(10))
    assert res.bad == []
    assert res.n_bytes == len(raw)


def test_bad_records_reasons_rows_and_lines(h, write):
    lines = [
        b'{"text": "good zero"}',  # row 0, line 1
        b"",  # blank: not a record
        b'{"text": "broken',  # row 1, line 3
        b"[1, 2]",  # row 2
        b'"just a string"',  # row 3
        b'{"body_x": "no text field"}',  # row 4
        b'{"text": null}',  # row 5
        b'{"text": 42}',  # row 6
        b'{"text": "   \\n\\t "}',  # row 7: whitespace only: still a document
        b'{"text": ""}',  # row 8: empty: still a document
        b'{"text": "caf\xe9"}',  # row 9: latin-1 byte, invalid UTF-8
        b"   ",  # blank
        b'{"text": "nul \\u0000 inside", "id": 7}',  # row 10: fine
        b'{"text": {"nested": 1}}',  # row 11
    ]
    path = write("bad.jsonl", b"\n".join(lines) + b"\n")
    res = h.collect(h.source_for(path))
    assert res.error is None
    assert res.rows == [0, 7, 8, 10]
    assert res.texts == ["good zero", "   \n\t ", "", "nul \x00 inside"]
    assert res.ids == [f"{path}:0", f"{path}:7", f"{path}:8", "7"]
    got = [(b.row, b.line, b.reason) for b in res.bad]
    assert got[0][:2] == (1, 3) and got[0][2].startswith("invalid JSON: ")
    assert got[1:] == [
        (2, 4, "not a JSON object (list)"),
        (3, 5, "not a JSON object (str)"),
        (4, 6, "field 'text' missing (nor content, contents, articleBody, body, "
          "document, raw_content)"),
        (5, 7, "field 'text' is null"),
        (6, 8, "field 'text' is not a string (int)"),
        (9, 11, "invalid UTF-8"),
        (11, 14, "field 'text' is not a string (dict)"),
    ]
    assert not any(b.skipped for b in res.bad)
    assert res.all_rows() == list(range(12))  # rows map 1:1 to non-blank lines


def test_text_field_order_and_dotted_url(h, write):
    records = [
        {"content": "from content", "text": None},  # first string-valued field wins
        {"articleBody": "body", "metadata": {"url": "http://nested"}},
        {"text": "t", "url": "", "source_url": "http://second"},  # empty url is skipped
        {"text": "t2", "metadata.url": "http://literal-dotted-key"},
        {"raw_content": "redpajama-v2", "doc_id": "x"},
    ]
    path = write("f.jsonl", h.jsonl_bytes(records))
    res = h.collect(h.source_for(path))
    assert res.texts == ["from content", "body", "t", "t2", "redpajama-v2"]
    assert res.urls == [None, "http://nested", "http://second", "http://literal-dotted-key", None]


def test_custom_fields_and_ids(h, write):
    records = [{"doc": {"body": "x"}, "key": 12}, {"doc": {"body": "y"}, "key": None}]
    path = write("c.jsonl", h.jsonl_bytes(records))
    opts = ReadOptions(text_fields=("doc.body",), id_field="key", url_fields=())
    res = h.collect(h.source_for(path), opts)
    assert res.texts == ["x", "y"]
    assert res.ids == ["12", f"{path}:1"]
    res = h.collect(h.source_for(path), ReadOptions(text_fields=("missing",)))
    assert [b.reason for b in res.bad] == ["field 'missing' missing"] * 2


def test_id_field_list_first_present_wins(h, write):
    """`--id-field id,uid` was read as one field named "id,uid", so every id silently became
    <path>:<row>. Like --text-field, it is a list: the first present, non-empty value wins."""
    records = [{"text": "a", "id": "x1", "uid": "u1"}, {"text": "b", "uid": 7},
               {"text": "c", "id": "", "meta": {"uid": "m3"}}, {"text": "d"}]
    path = write("ids.jsonl", h.jsonl_bytes(records))
    res = h.collect(h.source_for(path), ReadOptions(id_field="id, uid,meta.uid"))
    assert res.ids == ["x1", "7", "m3", f"{path}:3"]


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_batch_sizes_and_byte_sums(h, write, batch_size):
    lines = []
    for i in range(25):
        lines.append(orjson.dumps({"text": f"doc {i}"}) if i % 4 else b"not json")
        if i % 5 == 0:
            lines.append(b"")  # blank lines are counted in bytes, not in rows
    raw = b"\n".join(lines)  # no trailing newline on purpose
    path = write("b.jsonl.gz", gzip.compress(raw))
    res = h.collect(h.source_for(path), ReadOptions(batch_size=batch_size))
    assert res.error is None
    assert all(len(b) + len(b.bad) <= batch_size for b in res.batches)
    assert all(len(b) + len(b.bad) > 0 for b in res.batches)
    assert res.n_bytes == len(raw)
    assert res.all_rows() == list(range(25))
    assert len(res.bad) == 7


def test_names_with_spaces_and_unicode(h, write):
    path = write("dir with space/ünï cødé 文档.jsonl", h.jsonl_bytes([{"text": "ok"}]))
    res = h.collect(h.source_for(path))
    assert res.texts == ["ok"] and res.ids == [f"{path}:0"]


def test_crlf_and_bom(h, write):
    raw = b'\xef\xbb\xbf{"text": "first"}\r\n{"text": "second"}\r\n'
    res = h.collect(h.source_for(write("w.jsonl", raw)))
    assert res.texts == ["first", "second"]
    assert res.bad == []


@pytest.mark.parametrize(("suffix", "comp"), COMPRESSIONS[1:])
def test_truncated_stream_yields_then_raises(h, write, suffix, comp):
    raw = h.jsonl_bytes([{"text": f"record number {i} " + "x" * 50} for i in range(5000)])
    packed = h.compress(raw, comp)
    path = write(f"t.jsonl{suffix}", packed[: len(packed) * 2 // 3])
    res = h.collect(h.source_for(path))
    assert res.error is not None
    msg = str(res.error)
    assert str(path) in msg and "truncated" in msg and "at line" in msg
    n = len(res.texts)
    assert 0 < n < 5000
    assert res.bad == []  # the partial last line is not a record
    assert res.rows == list(range(n))
    assert res.texts[-1].startswith(f"record number {n - 1} ")
    assert f"at line {n + 1}" in msg
    assert res.n_bytes == len(b"".join(raw.split(b"\n", n)[:n])) + n  # complete lines only


def test_corrupt_gzip_and_mislabelled_files(h, write):
    raw = h.jsonl_bytes([{"text": "a"}] * 10)
    res = h.collect(h.source_for(write("plain.jsonl.gz", raw)))
    assert res.error is not None and "not gzip" in str(res.error)
    # gzip content under a plain name is read as the lines it claims to be: visible bad records
    res = h.collect(Source(str(write("sneaky.jsonl", gzip.compress(raw))), "jsonl"))
    assert res.error is None and res.texts == [] and res.bad
    # a .gz that is really zstd is decoded by its magic bytes
    res = h.collect(h.source_for(write("zstd.jsonl.gz", h.compress(raw, "zstd"))))
    assert res.error is None and len(res.texts) == 10
    broken = bytearray(gzip.compress(raw))
    broken[-6] ^= 0xFF  # CRC / size trailer
    res = h.collect(h.source_for(write("crc.jsonl.gz", bytes(broken))))
    assert res.error is not None and "gzip" in str(res.error)
    # a checksum covers the whole member: no "at line 1" that would point at the wrong place
    assert "no line of it could be read" in str(res.error) and "at line" not in str(res.error)


def test_empty_and_blank_only_files(h, write):
    assert h.collect(h.source_for(write("e.jsonl", b""))).batches == []
    res = h.collect(h.source_for(write("blank.jsonl", b"\n \n\t\n")))
    assert res.texts == [] and res.bad == [] and res.n_bytes == 5


def test_long_line_across_chunks(h, write):
    text = "long " * 3_000_000  # 15 MB: spans several 4 MB chunks
    raw = h.jsonl_bytes([{"text": "a"}, {"text": text}, {"text": "b"}])
    res = h.collect(h.source_for(write("long.jsonl.zst", h.compress(raw, "zstd"))))
    assert res.texts == ["a", text, "b"]
    assert res.n_bytes == len(raw)


# --- .json: JSON lines or a single document ---------------------------------------------


def test_json_array_document(h, write):
    doc = [{"text": "one", "id": "x"}, {"text": ""}, 5, {"content": "three"}]
    path = write("arr.json", orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    res = h.collect(h.source_for(path))
    assert res.texts == ["one", "", "three"]  # an empty text is a document
    assert res.ids == ["x", f"{path}:1", f"{path}:3"]
    assert [(b.row, b.line, b.reason) for b in res.bad] == [
        (2, None, "not a JSON object (int)"),
    ]
    assert res.n_bytes == path.stat().st_size


@pytest.mark.parametrize("indent", [True, False])
def test_json_object_keyed_by_id(h, write, indent):
    doc = {"k1": {"articleBody": "first", "url": "http://a"}, "k2": {"articleBody": "second"}}
    option = orjson.OPT_INDENT_2 if indent else 0
    path = write("gt.json.gz", gzip.compress(orjson.dumps(doc, option=option)))
    res = h.collect(h.source_for(path), ReadOptions(batch_size=1))
    assert res.texts == ["first", "second"]
    assert res.ids == ["k1", "k2"]
    assert res.urls == ["http://a", None]
    assert len(res.batches) == 2


def test_json_single_record_and_json_lines(h, write):
    path = write("one.json", orjson.dumps({"text": "solo"}, option=orjson.OPT_INDENT_2))
    assert h.collect(h.source_for(path)).texts == ["solo"]
    lines = h.jsonl_bytes([{"text": "l1"}, {"text": "l2"}, {"text": "l3"}])
    res = h.collect(h.source_for(write("lines.json", lines)))
    assert res.texts == ["l1", "l2", "l3"]
    res = h.collect(h.source_for(write("lines2.json", b"{broken\n" + lines)))
    assert res.texts == ["l1", "l2", "l3"]
    assert [b.row for b in res.bad] == [0]
    one_line = h.collect(h.source_for(write("oneline.json", b'{"text": "single"}\n')))
    assert one_line.texts == ["single"]
    # an array as the first line of JSON lines is one bad record, as in a .jsonl file
    res = h.collect(h.source_for(write("lines3.json", b"[1, 2]\n" + lines)))
    assert res.error is None and res.texts == ["l1", "l2", "l3"]
    assert [(b.row, b.reason) for b in res.bad] == [(0, "not a JSON object (list)")]
    array = h.collect(h.source_for(write("arr1.json", b'[{"text": "a"}, {"text": "b"}]\n')))
    assert array.texts == ["a", "b"]  # a one-line array is still a document


def test_json_lines_truncated_while_sniffing(h, write):
    raw = h.jsonl_bytes([{"text": f"line {i}"} for i in range(50)])
    packed = gzip.compress(raw)
    res = h.collect(h.source_for(write("small.json.gz", packed[: len(packed) // 2])))
    assert res.error is not None and "truncated gzip" in str(res.error)
    assert 0 < len(res.texts) < 50
    assert res.rows == list(range(len(res.texts)))


def test_json_invalid_document_and_size_cap(h, write, monkeypatch):
    res = h.collect(h.source_for(write("bad.json", b'[\n{"text": "a"},\n')))
    assert res.error is not None and "invalid JSON document" in str(res.error)
    assert res.batches == []
    import corpus_scan.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "MAX_JSON_DOCUMENT", 1000)
    res = h.collect(h.source_for(write("big.json", orjson.dumps([{"text": "x" * 100}] * 20))))
    assert res.error is not None and "larger than" in str(res.error)


def test_ids_are_spelled_as_json_and_big_integers_stay_exact(h, write):
    """orjson reads an integer beyond 64 bits as a float: two such ids used to collapse into
    one (1.1805916207174113e+21); true was stored as "True" and objects as Python reprs."""
    big = 1180591620717411303424
    lines = (
        f'{{"id": {big}, "text": "a"}}\n{{"id": {big + 1}, "text": "b"}}\n'
        '{"id": true, "text": "c"}\n{"id": {"k": [1, 2]}, "text": "d"}\n'
        '{"id": 1.5, "text": "e"}\n{"id": 1e20, "text": "f"}\n{"id": -7, "text": "g"}\n'
    ).encode()
    res = h.collect(h.source_for(write("ids.jsonl", lines)))
    assert res.ids == [str(big), str(big + 1), "true", '{"k":[1,2]}', "1.5", "1e+20", "-7"]
    doc = f'[{{"id": {big}, "text": "a"}}, {{"id": 7, "text": "b"}}]'.encode()
    res = h.collect(h.source_for(write("doc.json", doc)))
    assert res.ids == [str(big), "7"]
