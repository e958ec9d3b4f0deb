"""The database schema: the file users keep. Changing it means bumping SCHEMA_VERSION.

Scores live apart from text (dolma style): `candidates` holds one row per prefilter survivor with
its evidence window and scores, never a copy of the document, so a new threshold never needs a
rescan. Every count can be recomputed from `shards` and `candidates`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = 1

DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id INTEGER PRIMARY KEY,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        status VARCHAR,              -- running | done | failed (a killed scan stays 'running')
        config JSON,                 -- inputs, read options, detector settings
        config_hash VARCHAR,         -- same hash = same scan, so a re-run resumes it
        version VARCHAR,             -- corpus-scan version
        detector VARCHAR,            -- scorer name + version (models, head)
        lexicon_hash VARCHAR,
        threshold DOUBLE,            -- the decision threshold behind candidates.flagged
        n_inputs INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS shards (
        run_id INTEGER,
        shard_id INTEGER,            -- position of the shard in the run's sorted input list
        path VARCHAR,
        format VARCHAR,
        compression VARCHAR,
        size_bytes BIGINT,           -- on disk, at scan time (filter refuses if it changed)
        mtime DOUBLE,
        n_docs BIGINT,               -- good records read: the prevalence denominator
        n_chars BIGINT,
        n_bytes BIGINT,              -- uncompressed bytes read
        n_bad BIGINT,                -- records that could not be parsed
        n_skipped BIGINT,            -- records that are not documents by design (non-HTML WARC)
        n_candidates BIGINT,
        n_flagged BIGINT,
        status VARCHAR,              -- done | failed | limited (stopped by --limit)
        error VARCHAR,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        seconds DOUBLE,
        PRIMARY KEY (run_id, shard_id)
    )""",
    """CREATE TABLE IF NOT EXISTS skipped_inputs (
        run_id INTEGER, path VARCHAR, reason VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS bad_records (
        run_id INTEGER, shard_id INTEGER, row BIGINT, line BIGINT, reason VARCHAR,
        skipped BOOLEAN              -- first 1000 per shard; shards.n_bad is the exact count
    )""",
    """CREATE TABLE IF NOT EXISTS candidates (
        run_id INTEGER,
        shard_id INTEGER,
        shard VARCHAR,               -- the shard's path, repeated for easy grouping
        row BIGINT,                  -- 0-based record index in the shard
        doc_id VARCHAR,
        url VARCHAR,
        n_chars BIGINT,
        terms VARCHAR[],             -- distinct matched lexicon entries
        spans STRUCT(kind VARCHAR, term VARCHAR, "start" INTEGER, "end" INTEGER)[],
        n_pairs INTEGER,
        evidence VARCHAR,
        evidence_start INTEGER,
        lexical_score DOUBLE,
        score DOUBLE,                -- 0..1 from the run's detector
        flagged BOOLEAN,             -- score >= runs.threshold
        category VARCHAR,            -- fiction | news | discussion | roleplay | other
        stance VARCHAR,              -- resists | accepts | unclear
        stage VARCHAR,               -- the cascade stage that decided
        PRIMARY KEY (run_id, shard_id, row)
    )""",
    """CREATE TABLE IF NOT EXISTS passages (
        run_id INTEGER, shard_id INTEGER, row BIGINT, passage INTEGER,
        "start" INTEGER, "end" INTEGER, text VARCHAR, score DOUBLE,
        embedding FLOAT[],           -- kept so topic modelling never re-embeds
        PRIMARY KEY (run_id, shard_id, row, passage)
    )""",
    """CREATE OR REPLACE VIEW run_totals AS
        SELECT run_id,
               count(*) AS n_shards,
               count(*) FILTER (WHERE status = 'failed') AS n_failed,
               sum(n_docs) AS n_docs, sum(n_chars) AS n_chars, sum(n_bytes) AS n_bytes,
               sum(n_bad) AS n_bad, sum(n_skipped) AS n_skipped,
               sum(n_candidates) AS n_candidates, sum(n_flagged) AS n_flagged
        FROM shards GROUP BY run_id""",
]

# Topic tables (filled by `corpus-scan topics`) and the triage views. `hits` honours triage:
# flagged candidates minus documents whose majority topic a user marked `exclude`.
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
DDL += TOPIC_DDL
DDL.append("""CREATE OR REPLACE VIEW hits AS SELECT * FROM triaged_hits""")

TABLES = (
    "meta",
    "runs",
    "shards",
    "skipped_inputs",
    "bad_records",
    "candidates",
    "passages",
    "topic_fits",
    "topics",
    "passage_topics",
    "topic_marks",
)


def latest_run(con: duckdb.DuckDBPyConnection, *, finished_only: bool) -> int | None:
    """The run that finished last (a resumed older run can finish after a newer one), else,
    unless `finished_only`, the newest run still going; None when there is none."""
    row = con.execute(
        "SELECT run_id FROM runs WHERE status IN ('done', 'incomplete') "
        "ORDER BY finished_at DESC NULLS LAST, run_id DESC LIMIT 1"
    ).fetchone()
    if row is None and not finished_only:
        row = con.execute("SELECT max(run_id) FROM runs").fetchone()
    return int(row[0]) if row and row[0] is not None else None
