"""`audit.csv`: candidates sampled across score bands, for a human to label.

Bands are score deciles of all prefilter candidates of the run (equal-count bands, so the
sample reaches well below the threshold); within a band the sample is a deterministic hash
order. `weight` = candidates in the band / sampled from it, so labelled rows estimate precision
per band and overall. Documents that never passed the prefilter are not stored, so they cannot
be audited from the database (the prefilter's recall needs a separate labelled sample).
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from corpus_scan.analyze.queries import Query, Table, execute
from corpus_scan.analyze.text import clean, csv_text

AUDIT = Query(
    "audit",
    "Audit sample (stratified over score deciles of candidates)",
    """
WITH c AS (
    SELECT run_id, shard_id, row, doc_id, shard, url, score, flagged, evidence,
           ntile(10) OVER (ORDER BY score, shard_id, row) AS band
    FROM candidates WHERE run_id = {run}
), bands AS (
    SELECT band, min(score) AS band_low, max(score) AS band_high, count(*) AS band_size
    FROM c GROUP BY band
), s AS (
    SELECT c.*, b.band_low, b.band_high, b.band_size FROM c JOIN bands b USING (band)
    QUALIFY row_number() OVER (PARTITION BY band ORDER BY hash(shard_id, row, {seed}))
            <= {per_band}
)
SELECT run_id, shard_id, shard, row, doc_id, url, score, flagged, band,
       band_low, band_high, band_size,
       band_size / count(*) OVER (PARTITION BY band) AS weight, evidence,
       '' AS human_label
FROM s ORDER BY band, score, shard_id, row
""",
    "human_label is left blank: fill in yes / no / unsure.",
)

AUDIT_BANDS = Query(
    "audit_bands",
    "Score bands of the audit sample (deciles of candidate scores)",
    """
WITH c AS (
    SELECT score, flagged, ntile(10) OVER (ORDER BY score, shard_id, row) AS band
    FROM candidates WHERE run_id = {run}
)
SELECT band, min(score) AS band_low, max(score) AS band_high, count(*) AS band_size,
       count(*) FILTER (WHERE flagged) AS n_flagged
FROM c GROUP BY band ORDER BY band
""",
)

TEXT_COLUMNS = ("evidence", "url", "shard", "text", "label")


def audit_sql(run_id: int, per_band: int = 20, seed: int = 0) -> str:
    sql = AUDIT.sql(run_id)
    return sql.replace("{per_band}", str(int(per_band))).replace("{seed}", str(int(seed)))


def audit_table(
    con: duckdb.DuckDBPyConnection, run_id: int, *, per_band: int = 20, seed: int = 0
) -> Table:
    return execute(con, audit_sql(run_id, per_band, seed))


def write_csv(path: Path, table: Table, *, text_columns: tuple[str, ...] = TEXT_COLUMNS) -> None:
    """CSV with free-text cells cleaned of control characters and defused for spreadsheets."""
    idx = {i for i, c in enumerate(table.columns) if c in text_columns}
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(
                [csv_text(clean(v)) if i in idx and v is not None else v for i, v in enumerate(row)]
            )
