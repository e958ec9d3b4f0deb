"""`sql`: run a query against a scan database, read-only unless asked otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from corpus_scan.documents import InputError
from corpus_scan.store.db import connect


@dataclass
class QueryResult:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]


def sql(query: str, db: str | Path = "corpus_scan.duckdb", *, write: bool = False) -> QueryResult:
    """Run `query` on `db`. Read-only by default, so an exploratory query can never damage
    the file users keep; `write=True` opens it for writing (e.g. to add a view)."""
    if not query.strip().strip(";").strip():
        raise InputError("query is empty")
    if write and not Path(db).exists():
        raise InputError(f"{db}: no such database")
    con = connect(db, read_only=not write)
    try:
        if not write:
            _refuse_file_writes(con, query)
            # no extension may be fetched or loaded behind the query's back (that would write
            # a folder, download code and open other databases)
            con.execute("SET autoinstall_known_extensions = false; "
                        "SET autoload_known_extensions = false")  # fmt: skip
        cur = con.execute(query)
        if cur is None or cur.description is None:
            return QueryResult([], [], [])
        columns = [d[0] for d in cur.description]
        types = [str(d[1]) for d in cur.description]
        return QueryResult(columns, types, cur.fetchall())
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        if not write and "read-only" in first.lower():
            first += " (the database is opened read-only; pass --write to modify it)"
        raise InputError(f"query failed: {first}") from None
    finally:
        con.close()


# Statements that write files or open other databases even on a read-only connection.
_WRITES_FILES = {"COPY", "EXPORT", "ATTACH", "LOAD"}


# Settings that make DuckDB write files (a query log, profiles) or change where it spills.
_FILE_SETTINGS = re.compile(
    r"log_query_path|profil\w*_output|enable_profil|temp_directory|secret_directory"
    r"|extension_director|autoinstall|autoload|allow_unsigned|enable_logging|logging_storage",
    re.IGNORECASE,
)


def _refuse_file_writes(con: duckdb.DuckDBPyConnection, query: str) -> None:
    try:
        statements = [(s.type.name, s.query) for s in con.extract_statements(query)]
    except duckdb.Error:
        return  # a syntax error: let execute() report it in full
    kinds = [
        "SET (a file-writing setting)" if k in ("SET", "CALL") and _FILE_SETTINGS.search(q)
        else k
        for k, q in statements
    ]
    bad = sorted({k for k in kinds if k in _WRITES_FILES or k.startswith("SET (")})
    if bad:
        raise InputError(
            f"query refused: {', '.join(bad)} writes files, loads code or opens other "
            "databases; "
            "pass --write to allow it"
        )
