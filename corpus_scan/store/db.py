"""The only owner of the DuckDB file: schema, runs, idempotent shard commits, read-only access."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from corpus_scan.documents import InputError, Skipped
from corpus_scan.store.parts import MAX_BAD_ROWS_KEPT, ShardResult
from corpus_scan.store.schema import DDL, SCHEMA_VERSION
from corpus_scan.store.spill import delete_spills, read_spills


class DatabaseError(InputError):
    """A database that cannot be used as asked: missing, locked by a writer, wrong schema."""


STORAGE_COMPATIBILITY = "v1.2.0"
WRITER_MEMORY = "512MB"  # the scanning process's DuckDB memory limit (see `Store`)


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a scan database with a one-line error for the usual problems."""
    path = Path(path)
    if read_only and not path.exists():
        raise DatabaseError(f"{path}: no such database (run `corpus-scan scan ... --db {path}`)")
    try:
        con = duckdb.connect(
            str(path),
            read_only=read_only,
            # new files in a storage format that DuckDB 1.2 and later read (the DuckDB CLI on
            # PyPI is 1.5; the default, DuckDB 2.0's own format, would shut it out)
            config={"storage_compatibility_version": STORAGE_COMPATIBILITY},
        )
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseError(
                f"{path}: the database is in use by another process (a scan writing it, or "
                "another client holding it open); wait for it to finish or use another --db"
            ) from None
        raise DatabaseError(f"{path}: cannot open database: {str(exc).splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise DatabaseError(
            f"{path}: not a corpus-scan database: {str(exc).splitlines()[0]}"
        ) from None
    if read_only:
        check_schema(con, path)
    return con


def check_schema(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    """Refuse a database written by another schema version (or not by corpus-scan at all)."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.CatalogException:
        raise DatabaseError(f"{path}: not a corpus-scan database (no meta table)") from None
    found = int(rows[0][0]) if rows else None
    if found != SCHEMA_VERSION:
        raise DatabaseError(
            f"{path}: written with schema version {found}, this corpus-scan reads version "
            f"{SCHEMA_VERSION}; rescan into a new --db"
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class Store:
    """Writer side of a scan database. One instance per scan process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> DuckDB type
        # run -> shards that may hold rows of an earlier attempt (see `finished_shards`)
        self._attempted: dict[int, set[int]] = {}
        if self.path.parent and not self.path.parent.exists():
            raise DatabaseError(f"{self.path}: folder {self.path.parent} does not exist")
        existed = self.path.exists() and self.path.stat().st_size > 0
        self.con = connect(self.path)
        # A shard's commit is one transaction; DuckDB keeps its uncommitted rows in memory up
        # to this limit and writes the rest to `<db>.tmp/` (default: 80% of the machine's RAM)
        self.con.execute(f"SET memory_limit = '{WRITER_MEMORY}'")
        if existed:
            tables = {
                r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            if tables and "meta" not in tables:
                raise DatabaseError(f"{self.path}: exists and is not a corpus-scan database")
            if "meta" in tables and not self._interrupted_creation(tables):
                check_schema(self.con, self.path)
        # one transaction: a scan killed while creating the file leaves no half-made schema
        # (an empty meta table would read as "schema version None" on the next run)
        with self._transaction() as con:
            for stmt in DDL:
                con.execute(stmt)
            con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All of the block's writes or none of them."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # a failed COMMIT (disk full) has already ended the transaction
                pass
            raise

    def _interrupted_creation(self, tables: set[str]) -> bool:
        """A file whose creation was cut off before the version row (by a release that built the
        schema outside one transaction): no version and no runs, so nothing can be lost."""
        if self.con.execute("SELECT count(*) FROM meta").fetchone()[0]:
            return False
        return "runs" not in tables or not self.con.execute(
            "SELECT count(*) FROM runs"
        ).fetchone()[0]

    def close(self) -> None:
        self.con.close()

    # runs ---------------------------------------------------------------------------------
    def find_run(self, config_hash: str) -> tuple[int, str] | None:
        """The latest run with this configuration, so the same scan resumes instead of repeating."""
        row = self.con.execute(
            "SELECT run_id, status FROM runs WHERE config_hash = ? ORDER BY run_id DESC LIMIT 1",
            [config_hash],
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def start_run(
        self,
        config: dict[str, Any],
        config_hash: str,
        *,
        version: str,
        detector: str,
        lexicon_hash: str,
        threshold: float,
        n_inputs: int,
    ) -> int:
        run_id = self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0]
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                _now(),
                json.dumps(config),
                config_hash,
                version,
                detector,
                lexicon_hash,
                threshold,
                n_inputs,
            ],
        )
        return int(run_id)

    def reopen_run(self, run_id: int) -> None:
        self.con.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL WHERE run_id = ?", [run_id]
        )

    def finish_run(self, run_id: int, status: str) -> None:
        self.con.execute(
            "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?", [status, _now(), run_id]
        )

    def record_skipped(self, run_id: int, skipped: list[Skipped]) -> None:
        with self._transaction() as con:
            con.execute("DELETE FROM skipped_inputs WHERE run_id = ?", [run_id])
            if skipped:
                con.executemany(
                    "INSERT INTO skipped_inputs VALUES (?, ?, ?)",
                    [(run_id, s.path, s.reason) for s in skipped],
                )

    # shards -------------------------------------------------------------------------------
    def finished_shards(self, run_id: int) -> set[int]:
        """Shards that need no work on resume. Failed shards are retried (the cause may be gone).

        Also notes every shard the run has a row for: a shard's rows and its `shards` row are
        committed in one transaction, so a shard without one has nothing to replace, and its
        commit skips the DELETEs (four table scans per shard: 40% of a scan of 2,000 small
        files, and growing with the tables)."""
        rows = self.con.execute(
            "SELECT shard_id, status FROM shards WHERE run_id = ?", [run_id]
        ).fetchall()
        self._attempted[run_id] = {int(r[0]) for r in rows}
        return {int(r[0]) for r in rows if r[1] in ("done", "limited")}

    def commit_shard(self, run_id: int, result: ShardResult) -> None:
        """Replace whatever an earlier attempt left for this shard, all in one transaction."""
        self.commit_shards(run_id, [result])

    def commit_shards(self, run_id: int, results: Sequence[ShardResult]) -> None:
        """`commit_shard` for several shards in one transaction: each shard is still whole or
        absent. A transaction costs ~1.5 ms however little it writes, which dominated scans of
        many tiny files (2,000 one-line files: 3.8 of 4.5 s), so the scan groups small shards."""
        if not results:
            return
        attempted = self._attempted.get(run_id)
        with self._transaction() as con:
            for result in results:
                if attempted is None or result.shard_id in attempted:
                    key = [run_id, result.shard_id]
                    for table in ("candidates", "passages", "bad_records", "shards"):
                        con.execute(f"DELETE FROM {table} WHERE run_id = ? AND shard_id = ?", key)
            for result in results:  # rows a worker wrote to files, one file in memory at a time
                for chunk in read_spills(result.spills):
                    self._insert_columns("candidates", run_id, chunk["candidates"])
                    self._insert_columns("passages", run_id, chunk["passages"])
            for table, parts in (
                ("candidates", [r.candidates for r in results]),
                ("passages", [r.passages for r in results]),
                ("bad_records",
                 [{k: v[:MAX_BAD_ROWS_KEPT] for k, v in r.bad.items()} for r in results]),
                ("shards", [_shard_row(r) for r in results]),
            ):
                self._insert_columns(table, run_id, _concat(parts))
        if attempted is not None:
            attempted.update(r.shard_id for r in results)
        delete_spills([path for r in results for path in r.spills])

    def _insert_columns(self, table: str, run_id: int, cols: dict[str, list]) -> None:
        """Insert parallel Python lists as rows, each list one parameter unnested in DuckDB.

        Passage embeddings go as one Arrow list column beside them (a POSITIONAL JOIN), built
        from the numpy buffers: bound as Python lists they cost ~0.3 s per 2,048 passages, a
        fifth of a candidate-dense scan. The other columns stay Python lists, since
        `pyarrow.array` imports pandas (~0.2 s of the scanning process's CPU); the casts to
        the table's own column types make empty and all-NULL lists insert like any other.
        """
        n = len(next(iter(cols.values()), []))
        if not n:
            return
        types = self._column_types(table)
        names = [c for c in types if c == "run_id" or c in cols]
        # In slices: a candidate-rich shard (100,000 rows) converted at once took GBs
        for lo in range(0, n, INSERT_SLICE):
            hi = min(n, lo + INSERT_SLICE)
            arrow = _embedding_table(cols["embedding"][lo:hi]) if "embedding" in names else None
            listed = [c for c in names if arrow is None or c != "embedding"]
            select = ", ".join(
                f'unnest(CAST(${i} AS {types[c]}[])) AS "{c}"' for i, c in enumerate(listed, 1)
            )
            values = [[run_id] * (hi - lo) if c == "run_id" else _plain(cols[c][lo:hi])
                      for c in listed]
            if arrow is None:
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT {select}", values)
                continue
            # found by DuckDB's replacement scan of this frame's locals: a table passed to
            # `con.register` stays alive until the transaction ends (a shard's every slice,
            # +190 MB for 270,000 passages), this one goes with the statement
            _cs_embeddings = arrow  # noqa: F841
            self.con.execute(
                f"INSERT INTO {table} BY NAME SELECT * FROM (SELECT {select}) "
                "POSITIONAL JOIN _cs_embeddings",
                values,
            )

    def _column_types(self, table: str) -> dict[str, str]:
        cache = self._types
        if table not in cache:
            rows = self.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = 'main' ORDER BY ordinal_position",
                [table],
            ).fetchall()
            cache[table] = {name: dtype for name, dtype in rows}
        return cache[table]

    def run_totals(self, run_id: int) -> dict[str, Any]:
        cur = self.con.execute("SELECT * FROM run_totals WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True)) if row else {n: 0 for n in names}

    def bad_sample(self, run_id: int, n: int = 5) -> list[tuple[str, int | None, int, str]]:
        """A run's first bad record of each kind (reason), at most `n`: (shard path, line or
        None, row, reason). One file of 7,000 records without a text field is one line."""
        return self.con.execute(
            "SELECT s.path, b.line, b.row, b.reason FROM bad_records b JOIN shards s "
            "USING (run_id, shard_id) WHERE b.run_id = ? AND NOT b.skipped "
            "QUALIFY row_number() OVER (PARTITION BY b.reason ORDER BY b.shard_id, b.row) = 1 "
            "ORDER BY b.shard_id, b.row LIMIT ?",
            [run_id, n],
        ).fetchall()

    def failed_shards(self, run_id: int) -> list[tuple[str, str]]:
        return self.con.execute(
            "SELECT path, error FROM shards WHERE run_id = ? AND status = 'failed' "
            "ORDER BY shard_id",
            [run_id],
        ).fetchall()


INSERT_SLICE = 2048  # rows per INSERT of one shard's columns (all in the shard's transaction)


def _shard_row(r: ShardResult) -> dict[str, list]:
    """The `shards` row of a result, as one-element columns (`_insert_columns` casts them)."""
    return {
        "shard_id": [r.shard_id], "path": [r.path], "format": [r.format],
        "compression": [r.compression], "size_bytes": [r.size_bytes], "mtime": [r.mtime],
        "n_docs": [r.n_docs], "n_chars": [r.n_chars], "n_bytes": [r.n_bytes],
        "n_bad": [r.n_bad], "n_skipped": [r.n_skipped], "n_candidates": [r.n_candidates],
        "n_flagged": [r.n_flagged], "status": [r.status], "error": [r.error],
        "started_at": [_ts(r.started_at)], "finished_at": [_ts(r.finished_at)],
        "seconds": [round(r.finished_at - r.started_at, 6)],
    }  # fmt: skip


def _concat(parts: list[dict[str, list]]) -> dict[str, list]:
    """Column dicts of several shards (same keys) as one."""
    if len(parts) == 1:
        return parts[0]
    return {k: [v for p in parts for v in p[k]] for k in parts[0]}


def _embedding_table(values: list) -> Any:
    """One Arrow column `embedding` (list<float32>) made from the numpy vectors' memory, or
    None when some row is not a float vector (no embedding: the lexical detector), which then
    goes as Python lists. `from_buffers` because `pyarrow.array` would import pandas."""
    if not values or not all(isinstance(v, np.ndarray) and v.ndim == 1 for v in values):
        return None
    import pyarrow as pa

    flat = np.ascontiguousarray(np.concatenate(values), dtype=np.float32)
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(v) for v in values], out=offsets[1:])
    floats = pa.Array.from_buffers(pa.float32(), len(flat), [None, pa.py_buffer(flat)])
    lists = pa.Array.from_buffers(pa.list_(pa.float32()), len(values),
                                  [None, pa.py_buffer(offsets)], children=[floats])
    return pa.Table.from_arrays([lists], names=["embedding"])


def _plain(values: list) -> list:
    """Numpy arrays among `values` (passage embeddings) as lists, which DuckDB binds."""
    return [v.tolist() if hasattr(v, "tolist") else v for v in values]
