"""Readers over the real corpora in ../shared/corpora (skipped when that folder is absent)."""

from __future__ import annotations

import collections
import csv

import pytest

from corpus_scan.documents import ReadOptions
from corpus_scan.sources import discover

pytestmark = pytest.mark.slow


def test_web_jsonl_counts(h, corpora):
    expected = {}
    with open(corpora / "web-jsonl-COUNTS.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            expected[row["source"]] = int(row["docs"])
    total = expected.pop("TOTAL")
    assert total == 23_726

    sources, skipped = discover([str(corpora / "web-jsonl")])
    assert skipped == []
    assert len(sources) == 13 and all(s.format == "jsonl" for s in sources)
    seen_docs = seen_rows = 0
    bad_reasons: collections.Counter[str] = collections.Counter()
    for source in sources:
        name = source.path.rsplit("/", 1)[-1].removesuffix(".jsonl.gz")
        res = h.collect(source, ReadOptions())
        assert res.error is None, res.error
        rows = res.all_rows()
        # every input record is accounted for, in order
        assert rows == list(range(expected[name])), name
        assert len(set(res.ids)) == len(res.ids), name
        assert res.n_bytes > source.size  # uncompressed bytes
        seen_docs += len(res.texts)
        seen_rows += len(rows)
        bad_reasons.update(f"{name}: {b.reason}" for b in res.bad)
    assert seen_rows == total
    # Two pile-sample records hold only spaces: they are documents (empty texts count), so the
    # folder has no bad records at all and every record is a document.
    assert bad_reasons == {}
    assert seen_docs == total


def test_raw_web_folder(h, corpora):
    sources, skipped = discover([str(corpora / "web")])
    by_format = collections.Counter(s.format for s in sources)
    assert by_format == {
        "txt": 2227,
        "jsonl": 11,
        "warc": 6,
        "csv": 2,
        "json": 2,
        "wet": 1,
        "tar": 1,
        "parquet": 1,
    }
    assert sorted((s.path.rsplit("/", 1)[-1], s.reason) for s in skipped) == [
        ("README.TXT", "documentation file (README/LICENSE-like)"),
        ("readme.txt", "documentation file (README/LICENSE-like)"),
    ]

    docs: collections.Counter[str] = collections.Counter()
    bad: collections.Counter[tuple[str, bool]] = collections.Counter()
    for source in sources:
        res = h.collect(source, ReadOptions())
        assert res.error is None, res.error
        assert res.all_rows() == list(range(len(res.all_rows())))
        docs[source.format] += len(res.texts)
        bad.update((source.format, b.skipped) for b in res.bad)
        if source.format in ("jsonl", "json", "csv", "txt", "tar", "warc", "wet"):
            # exact uncompressed sizes for stream formats (parquet: metadata estimate)
            assert res.n_bytes >= source.size or source.compression is None
    assert docs == {
        "jsonl": 11976,  # includes 29 empty/whitespace-only texts
        "csv": 7850,  # AG News (headerless, 7600) + FakeNewsCorpus (250)
        "txt": 2227,  # 2225 BBC articles + classes.txt + wiki_demo.txt (one document per file)
        "tar": 1381,
        "json": 191,
        "warc": 149,
        "parquet": 100,
        "wet": 1,
    }
    assert bad == {("warc", True): 209}  # non-page records (empty texts are documents)
