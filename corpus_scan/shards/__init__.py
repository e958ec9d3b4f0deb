"""Filtered and annotated training shards, written from a scan database (no re-scoring).

    from corpus_scan.shards import filter_shards
    report = filter_shards("hits.duckdb", "clean/", mode="drop", fmt="parquet")

Modules: `plan` (run, shard checks, output names), `flags` (which documents are flagged; the
`triaged_hits` hook), `originals` in `corpus_scan.sources` (record-level reading), `schema`
(one Parquet schema per shard of JSON records), `shard` (per-shard decisions and writing),
`writer` (atomic files), `manifest` (output folder rules, resume, manifest.json), `filter`
(the job).
"""

from corpus_scan.shards.filter import FilterReport, filter_shards
from corpus_scan.shards.flags import flagged_rows

__all__ = ["FilterReport", "filter_shards", "flagged_rows"]
