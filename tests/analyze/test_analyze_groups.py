"""The report's per-group tables: URL hosts, and flagged counts before and after topic triage."""

from __future__ import annotations

import duckdb
import pytest

from corpus_scan.analyze.queries import BY_DOMAIN, BY_SHARD, BY_SOURCE, DOMAIN


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.com/a", "example.com"),
        ("http://user@host.io:8080/x?q=1", "host.io"),
        # web corpora also keep URLs without a scheme (web-jsonl does)
        ("en.battlestarwiki.org/index.php?title=HAL", "en.battlestarwiki.org"),
        ("www.example.co.uk", "example.co.uk"),
        ("/relative/page", "(no host)"),
        ("not a url", "(no host)"),
        ("mailto:someone@example.com", "(no host)"),
        ("", "(no url)"),
        (None, "(no url)"),
    ],
)
def test_domain_of_a_url(url: str | None, host: str) -> None:
    con = duckdb.connect()
    got = con.execute(f"SELECT {DOMAIN} FROM (SELECT ?::VARCHAR AS url) c", [url]).fetchone()
    assert got[0] == host


def test_group_tables_count_flagged_documents_after_triage(tmp_path) -> None:
    """A document whose topic is marked exclude is flagged but not a hit: every per-group
    table shows both counts (the report used to show only the first)."""
    from corpus_scan.store.db import Store

    db = tmp_path / "x.duckdb"
    Store(db).close()  # the real schema, views included
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO runs (run_id, status) VALUES (1, 'done')")
    con.execute("INSERT INTO shards (run_id, shard_id, path, n_docs, n_chars, status) VALUES "
                "(1, 0, '/c/web/a.jsonl', 100, 4000, 'done')")
    for row, url in enumerate(["https://a.example/x", "b.example/y", "https://a.example/z"]):
        con.execute("INSERT INTO candidates (run_id, shard_id, shard, row, url, flagged) "
                    "VALUES (1, 0, '/c/web/a.jsonl', ?, ?, true)", [row, url])
    # triage as `hits` sees it (topics and their marks are tested in test_analyze_topics):
    # row 2's topic was marked exclude
    con.execute("CREATE OR REPLACE VIEW hits AS "
                "SELECT * FROM candidates WHERE flagged AND row <> 2")
    source = con.execute(BY_SOURCE.sql(1)).fetchall()
    assert [(r[0], r[5], r[6]) for r in source] == [("/c/web", 3, 2)]
    shard = con.execute(BY_SHARD.sql(1)).fetchall()
    assert [(r[5], r[6], r[7]) for r in shard] == [(3, 3, 2)]
    domains = {r[0]: r[2:] for r in con.execute(BY_DOMAIN.sql(1)).fetchall()}
    assert domains == {"a.example": (2, 1), "b.example": (1, 1)}


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/corpora/web/a.jsonl.gz", "/corpora/web"),
        ("hf:org/name", "hf:org/name"),  # a dataset, not its organisation
        ("hf://datasets/org/name/data/x.parquet", "hf://datasets/org/name/data/x.parquet"),
    ],
)
def test_source_group_of_a_shard(path: str, source: str) -> None:
    from corpus_scan.analyze.queries import SOURCE

    con = duckdb.connect()
    assert con.execute(f"SELECT {SOURCE} FROM (SELECT ? AS path) s", [path]).fetchone()[0] == source
