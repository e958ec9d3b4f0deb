"""Parquet and CSV readers."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_scan.documents import ReadOptions


def _parquet(path, table, **kw):
    pq.write_table(table, path, **kw)
    return path


def test_parquet_good_bad_ids_urls(h, tmp_path):
    table = pa.table(
        {
            "id": [10, None, 12, 13, 14],
            "content": ["alpha", None, "", "  ", "epsilon"],
            "metadata": [{"url": "http://a"}, None, None, None, {"url": None}],
            "other": [1, 2, 3, 4, 5],
        }
    )
    path = _parquet(tmp_path / "t.parquet", table, row_group_size=2)
    res = h.collect(h.source_for(path), ReadOptions(batch_size=2))
    assert res.error is None
    assert res.texts == ["alpha", "", "  ", "epsilon"]  # empty / blank texts are documents
    assert res.rows == [0, 2, 3, 4]
    assert res.ids == ["10", "12", "13", "14"]
    assert res.urls == ["http://a", None, None, None]
    assert [(b.row, b.line, b.reason) for b in res.bad] == [
        (1, None, "field 'content' is null"),
    ]
    assert all(len(b) + len(b.bad) <= 2 for b in res.batches)
    meta = pq.ParquetFile(path).metadata
    total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    assert res.n_bytes == total


def test_parquet_default_ids(h, tmp_path):
    path = _parquet(tmp_path / "n.parquet", pa.table({"text": ["a", "b"]}))
    assert h.collect(h.source_for(path)).ids == [f"{path}:0", f"{path}:1"]


def test_parquet_without_text_column(h, tmp_path):
    path = _parquet(tmp_path / "x.parquet", pa.table({"a": [1], "b": ["x"], "c": [1.0]}))
    res = h.collect(h.source_for(path))
    assert res.batches == []
    msg = str(res.error)
    assert "no text column" in msg and "tried text, content" in msg and "columns: a, b, c" in msg


def test_parquet_text_column_of_wrong_type(h, tmp_path):
    path = _parquet(tmp_path / "w.parquet", pa.table({"text": [1, 2]}))
    res = h.collect(h.source_for(path))
    assert res.batches == [] and "int64" in str(res.error)


@pytest.mark.parametrize("data", [b"", b"not a parquet file at all", b"PAR1" + b"\0" * 20])
def test_zero_byte_and_corrupt_parquet(h, write, data):
    res = h.collect(h.source_for(write("z.parquet", data)))
    assert res.batches == []
    assert res.error is not None and "Parquet" in str(res.error)


def test_csv_ragged_rows_numbered_in_place(h, write):
    raw = (
        b"id,text,url\n"
        b"1,hello,http://a\n"
        b'2,"multi\nline",\n'  # quoted newline
        b"3,too,many,fields\n"  # ragged -> bad row 2
        b"\n"  # blank: not a row
        b"4,,http://d\n"  # empty text: still a document (row 3)
        b"5\n"  # ragged -> bad row 4
        b"6,caf\xe9,\n"  # invalid UTF-8 -> bad row 5
        b"7,last,http://g\n"
    )
    path = write("r.csv", raw)
    res = h.collect(h.source_for(path), ReadOptions(batch_size=2))
    assert res.error is None
    assert res.texts == ["hello", "multi\nline", "", "last"]
    assert res.rows == [0, 1, 3, 6]
    assert res.ids == ["1", "2", "4", "7"]
    assert res.urls == ["http://a", None, "http://d", "http://g"]
    bad = [(b.row, b.line, b.reason) for b in res.bad]
    assert bad == [  # lines are physical: the quoted newline and the blank line count
        (2, 5, "ragged row (4 fields, expected 3)"),
        (4, 8, "ragged row (1 fields, expected 3)"),
        (5, 9, "invalid UTF-8"),
    ]
    assert res.all_rows() == list(range(7))
    assert res.n_bytes == len(raw)
    assert all(len(b) <= 2 for b in res.batches)
    # a bad row before a ragged one in the same batch keeps its line (it used to be None:
    # the ragged row was looked up first, and line lookups only went forward)
    path = write("m.csv", b"id,text\nb,caf\xe9\nf,x,y\ng,ok\n")
    res = h.collect(h.source_for(path))
    assert [(b.row, b.line, b.reason) for b in res.bad] == [
        (0, 2, "invalid UTF-8"), (1, 3, "ragged row (3 fields, expected 2)")
    ]


def test_csv_bad_record_lines_past_multiline_cells_in_gzip(h, write):
    good = b"".join(b'%d,"cell %d\nspans\r\nthree lines"\n' % (i, i) for i in range(3000))
    raw = b"id,text\n" + good + b"x,y,z\n" + good.replace(b"cell", b"more") + b"q\n"
    res = h.collect(h.source_for(write("m.csv.gz", gzip.compress(raw))))
    assert res.error is None and len(res.texts) == 6000
    assert [(b.row, b.line) for b in res.bad] == [(3000, 9002), (6001, 18003)]
    lines = raw.split(b"\n")
    assert lines[9002 - 1] == b"x,y,z" and lines[18003 - 1] == b"q"


def test_csv_without_bad_records_never_reads_the_file_twice(h, write, monkeypatch):
    from corpus_scan.sources.csv_lines import PhysicalLines

    opened = []
    monkeypatch.setattr(PhysicalLines, "_open", lambda self: opened.append(1))
    res = h.collect(h.source_for(write("ok.csv", b"text\n" + b"a line\n" * 100)))
    assert len(res.texts) == 100 and opened == []


def test_csv_gzip_and_default_ids(h, write):
    raw = b"title,body\nt1,b1\nt2,b2\n"
    path = write("c.csv.gz", gzip.compress(raw))
    res = h.collect(h.source_for(path))
    assert res.texts == ["b1", "b2"]
    assert res.ids == [f"{path}:0", f"{path}:1"]
    assert res.n_bytes == len(raw)


def test_csv_without_text_column(h, write):
    res = h.collect(h.source_for(write("n.csv", b"a,b,c\n1,2,3\n")))
    assert res.batches == []
    assert "no text column" in str(res.error) and "columns: a, b, c" in str(res.error)


def test_csv_with_another_delimiter_says_so(h, write):
    for name, raw, sep in (("semi.csv", b"id;text\n1;hello\n", "';'"),
                           ("tab.csv", b"id\ttext\n1\thello\n", "'\\t'")):
        res = h.collect(h.source_for(write(name, raw)))
        assert res.batches == [] and f"looks {sep}-separated" in str(res.error), res.error


def test_csv_headerless_ag_news_style(h, write):
    raw = (
        b'"3","Fears for pension after talks","Unions representing workers at Turner say they '
        b'are disappointed after talks with stricken parent firm."\n'
        b'"4","Short title","Short body"\n'
    )
    res = h.collect(h.source_for(write("test.csv", raw)))
    assert res.error is None
    assert res.texts[1] == "Short title\nShort body"
    assert res.texts[0].startswith("Fears for pension after talks\nUnions")
    assert res.rows == [0, 1]


def test_csv_truncated_gzip(h, write):
    raw = b"text\n" + b"".join(b"row %d with some words\n" % i for i in range(20000))
    packed = gzip.compress(raw)
    res = h.collect(h.source_for(write("t.csv.gz", packed[: len(packed) // 2])))
    assert res.error is not None and "truncated gzip" in str(res.error)
    assert len(res.texts) > 0
    assert res.rows == list(range(len(res.texts)))


def test_csv_many_ragged_rows_stay_in_bounded_batches(h, write):
    raw = b"text,id\n" + b"".join(b"a,b,c,%d\n" % i for i in range(50)) + b"good,1\n"
    res = h.collect(h.source_for(write("rag.csv", raw)), ReadOptions(batch_size=8))
    assert res.texts == ["good"] and res.rows == [50]
    assert [b.row for b in res.bad] == list(range(50))
    assert [b.line for b in res.bad] == list(range(2, 52))
    assert all(len(b) + len(b.bad) <= 8 for b in res.batches[:-1])
    assert res.n_bytes == len(raw)


def test_parquet_id_field_list_takes_the_first_present_column(h, tmp_path):
    path = _parquet(tmp_path / "ids.parquet", pa.table({"text": ["a", "b"], "uid": ["u0", None]}))
    res = h.collect(h.source_for(path), ReadOptions(id_field="id,uid"))
    assert res.ids == ["u0", f"{path}:1"]
