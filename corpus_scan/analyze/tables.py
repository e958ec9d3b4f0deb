"""Tables and views that `topics` adds to a scan database (created on first use).

They belong next to `corpus_scan.store.schema.DDL`; until they move there, `ensure_tables`
creates them with CREATE ... IF NOT EXISTS, which is harmless on a database that has them.

A topic fit belongs to one run. Only the latest fit of a run is kept in `topics` and
`passage_topics`; `topic_fits` keeps the history and `topic_marks` every triage decision ever
made (a mark names the fit it was made on, so marks on an earlier fit no longer apply).
"""

from __future__ import annotations

import duckdb

TOPIC_DDL = [
    """CREATE TABLE IF NOT EXISTS topic_fits (
        fit_id INTEGER PRIMARY KEY,
        run_id INTEGER,
        fitted_at TIMESTAMP,
        unit VARCHAR,                -- passage (stored embeddings) | evidence (TF-IDF fallback)
        method VARCHAR,              -- bertopic-hdbscan | bertopic-kmeans | single | none
        n_units INTEGER,             -- passages (or evidence windows) given a topic
        n_fitted INTEGER,            -- of which the model was fitted on (a random sample)
        n_docs INTEGER,
        n_topics INTEGER,            -- excluding -1 (unassigned)
        params JSON,
        seconds DOUBLE,
        note VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS topics (
        run_id INTEGER,
        fit_id INTEGER,
        topic INTEGER,               -- -1: passages no topic claimed (HDBSCAN outliers)
        label VARCHAR,
        terms VARCHAR[],             -- top c-TF-IDF terms, best first
        n_passages INTEGER,
        n_docs INTEGER,              -- documents with at least one passage in the topic
        x DOUBLE, y DOUBLE,          -- centroid on the 2-D topic map
        PRIMARY KEY (run_id, topic)
    )""",
    """CREATE TABLE IF NOT EXISTS passage_topics (
        run_id INTEGER,
        shard_id INTEGER,
        row BIGINT,
        passage INTEGER,             -- passages.passage; -1 = the candidate's evidence window
        topic INTEGER,
        assigned VARCHAR,            -- fit | neighbours (beyond the fitted sample: majority of
                                     -- 15 nearest fitted passages) | words (vectors from
                                     -- another embedder: topic with most shared words)
        x DOUBLE, y DOUBLE,          -- 2-D topic map position (NULL if not in the fitted sample)
        PRIMARY KEY (run_id, shard_id, row, passage)
    )""",
    """CREATE TABLE IF NOT EXISTS topic_marks (
        mark_id INTEGER PRIMARY KEY,
        run_id INTEGER,
        fit_id INTEGER,
        topic INTEGER,
        decision VARCHAR,            -- include | exclude | clear
        who VARCHAR,
        marked_at TIMESTAMP
    )""",
    # The latest decision per topic of each run's current fit ('clear' removes a decision).
    """CREATE OR REPLACE VIEW topic_decisions AS
        WITH cur AS (SELECT run_id, max(fit_id) AS fit_id FROM topic_fits GROUP BY run_id),
        last AS (
            SELECT m.run_id, m.topic, arg_max(m.decision, m.mark_id) AS decision,
                   arg_max(m.who, m.mark_id) AS who, arg_max(m.marked_at, m.mark_id) AS marked_at
            FROM topic_marks m JOIN cur USING (run_id, fit_id)
            GROUP BY m.run_id, m.topic
        )
        SELECT * FROM last WHERE decision <> 'clear'""",
    # One topic per document: the topic most of its passages belong to (ties: earliest passage).
    """CREATE OR REPLACE VIEW doc_topics AS
        WITH counts AS (
            SELECT run_id, shard_id, row, topic, count(*) AS n_passages, min(passage) AS first
            FROM passage_topics GROUP BY run_id, shard_id, row, topic
        )
        SELECT run_id, shard_id, row, topic, n_passages FROM counts
        QUALIFY row_number() OVER (
            PARTITION BY run_id, shard_id, row ORDER BY n_passages DESC, first
        ) = 1""",
    # Flagged documents after triage: drop those whose majority topic is excluded, unless one of
    # their passages is in an include-marked topic (include wins). Built on `candidates`, not
    # `hits`, so `hits` may itself be redefined as this view.
    """CREATE OR REPLACE VIEW triaged_hits AS
        SELECT c.* FROM candidates c
        WHERE c.flagged AND (
            NOT EXISTS (
                SELECT 1 FROM doc_topics d JOIN topic_decisions t
                  ON t.run_id = d.run_id AND t.topic = d.topic AND t.decision = 'exclude'
                WHERE d.run_id = c.run_id AND d.shard_id = c.shard_id AND d.row = c.row)
            OR EXISTS (
                SELECT 1 FROM passage_topics p JOIN topic_decisions t
                  ON t.run_id = p.run_id AND t.topic = p.topic AND t.decision = 'include'
                WHERE p.run_id = c.run_id AND p.shard_id = c.shard_id AND p.row = c.row)
        )""",
]

TOPIC_TABLES = ("topic_fits", "topics", "passage_topics", "topic_marks")


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the topic tables and views if missing (needs a writable connection)."""
    for stmt in TOPIC_DDL:
        con.execute(stmt)


def has_topic_tables(con: duckdb.DuckDBPyConnection) -> bool:
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    return set(TOPIC_TABLES) <= names and "triaged_hits" in views
