"""Opening a scan database for analysis and choosing the run to analyse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from corpus_scan.documents import InputError
from corpus_scan.store.db import DatabaseError, check_schema, connect
from corpus_scan.store.schema import latest_run


def open_db(path: str | Path, *, write: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to an existing scan database, with one-line errors: missing file, locked by
    a running scan, not a corpus-scan database, another schema version."""
    path = Path(path)
    if not path.exists():
        raise DatabaseError(f"{path}: no such database (run `corpus-scan scan ... --db {path}`)")
    if path.is_dir():
        raise DatabaseError(f"{path}: is a folder, not a database file")
    con = connect(path, read_only=not write)
    con.complete()  # check_schema may leave a result open; DuckDB 2 wants it finished
    if write:
        try:
            check_schema(con, path)
        except BaseException:
            con.close()
            raise
    return con


def resolve_run(con: duckdb.DuckDBPyConnection, run_id: int | None, db: str | Path) -> int:
    """`run_id` if the database has it, else the run that finished last (else the newest run
    still going); InputError when there is none."""
    runs = [int(r[0]) for r in con.execute("SELECT run_id FROM runs ORDER BY run_id").fetchall()]
    if not runs:
        raise InputError(f"{db}: holds no scan run yet")
    if run_id is None:
        return latest_run(con, finished_only=False) or runs[-1]
    if int(run_id) not in runs:
        raise InputError(f"{db}: no run {run_id} (runs: {', '.join(map(str, runs))})")
    return int(run_id)


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM (SELECT table_name AS n FROM duckdb_tables() "
            "UNION ALL SELECT view_name FROM duckdb_views()) WHERE n = ?",
            [name],
        )
    )


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The first value of the first row (None when there is no row). Reads the whole result:
    DuckDB 2 refuses further work on a connection with a half-read result."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None
