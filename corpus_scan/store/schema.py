"""The database schema: the file users keep. Changing it means bumping SCHEMA_VERSION.

Scores live apart from text (dolma style): `candidates` holds one row per prefilter survivor with
its evidence window and scores, never a copy of the document, so a new threshold never needs a
rescan. Every count can be recomputed from `shards` and `candidates`.
"""

from __future__ import annotations

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
    """CREATE OR REPLACE VIEW hits AS
        SELECT * FROM candidates WHERE flagged""",
    """CREATE OR REPLACE VIEW run_totals AS
        SELECT run_id,
               count(*) AS n_shards,
               count(*) FILTER (WHERE status = 'failed') AS n_failed,
               sum(n_docs) AS n_docs, sum(n_chars) AS n_chars, sum(n_bytes) AS n_bytes,
               sum(n_bad) AS n_bad, sum(n_skipped) AS n_skipped,
               sum(n_candidates) AS n_candidates, sum(n_flagged) AS n_flagged
        FROM shards GROUP BY run_id""",
]

TABLES = ("meta", "runs", "shards", "skipped_inputs", "bad_records", "candidates", "passages")
