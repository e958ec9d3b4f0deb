"""Tables and views that `topics` adds to a scan database (created on first use).

They are defined in `corpus_scan.store.schema` (every scan creates them); `ensure_tables`
re-creates them with CREATE ... IF NOT EXISTS for databases made before a scan did so.

A topic fit belongs to one run. Only the latest fit of a run is kept in `topics` and
`passage_topics`; `topic_fits` keeps the history and `topic_marks` every triage decision ever
made (a mark names the fit it was made on, so marks on an earlier fit no longer apply).
"""

from __future__ import annotations

import duckdb

from corpus_scan.store.schema import TOPIC_DDL

TOPIC_TABLES = ("topic_fits", "topics", "passage_topics", "topic_marks")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the topic tables and views if missing (needs a writable connection)."""
    for stmt in TOPIC_DDL:
        con.execute(stmt)


def has_topic_tables(con: duckdb.DuckDBPyConnection) -> bool:
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    return set(TOPIC_TABLES) <= names and "triaged_hits" in views
