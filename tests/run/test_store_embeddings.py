"""Passage embeddings reach the database exactly, on the right rows, through the Arrow path."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest

from corpus_scan.store import db as db_module
from corpus_scan.store.db import Store, connect
from corpus_scan.store.parts import ShardResult


def _result(embeddings: list) -> ShardResult:
    r = ShardResult(0, "s0", "jsonl", None, 10, 0.0)
    n = len(embeddings)
    r.passages = {
        "shard_id": [0] * n, "row": list(range(n)), "passage": [0] * n,
        "start": [0] * n, "end": [5] * n, "text": [f"text {i}" for i in range(n)],
        "score": [0.5] * n, "embedding": embeddings,
    }  # fmt: skip
    return r


def _commit(path: Path, result: ShardResult) -> dict[int, list | None]:
    store = Store(path)
    try:
        run = store.start_run({}, "h", version="t", detector="d", lexicon_hash="x",
                              threshold=0.5, n_inputs=1)
        store.commit_shard(run, result)
    finally:
        store.close()
    con = connect(path, read_only=True)
    try:
        return dict(con.execute("SELECT row, embedding FROM passages").fetchall())
    finally:
        con.close()


def test_vectors_are_stored_exactly_on_their_rows_across_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "INSERT_SLICE", 3)  # 7 rows: slices of 3, 3 and 1
    rng = np.random.default_rng(0)
    # one vector of another length, as when an analysis database mixes embedding spaces
    vectors = [rng.normal(size=4 if i != 4 else 6).astype(np.float32) for i in range(7)]
    got = _commit(tmp_path / "x.duckdb", _result(vectors))
    assert sorted(got) == list(range(7))
    for row, vector in enumerate(vectors):
        assert np.array_equal(np.asarray(got[row], dtype=np.float32), vector), row


def test_each_slice_frees_its_arrow_table_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard commits in one transaction: tables kept until its end would add up (a table
    given to `con.register` is kept alive until the transaction commits)."""
    monkeypatch.setattr(db_module, "INSERT_SLICE", 2)
    made: list[weakref.ref] = []
    alive_at_next: list[bool] = []
    build = db_module._embedding_table

    def tracked(values: list):
        gc.collect()
        # the one before is still bound in the insert loop; none older may be alive
        alive_at_next.extend(ref() is not None for ref in made[:-1])
        table = build(values)
        made.append(weakref.ref(table))
        return table

    monkeypatch.setattr(db_module, "_embedding_table", tracked)
    got = _commit(tmp_path / "x.duckdb", _result([np.full(4, i, np.float32) for i in range(6)]))
    assert len(made) == 3 and alive_at_next and not any(alive_at_next)
    assert got[5] == [5.0] * 4


def test_rows_without_a_vector_store_null(tmp_path: Path) -> None:
    got = _commit(tmp_path / "x.duckdb", _result([None, None]))
    assert got == {0: None, 1: None}
    mixed = [np.ones(3, np.float32), None]  # not every row a vector: the Python-list path
    got = _commit(tmp_path / "y.duckdb", _result(mixed))
    assert got[0] == [1.0, 1.0, 1.0] and got[1] is None


def test_committing_vectors_does_not_import_pandas(tmp_path: Path) -> None:
    """The scanning process would pay ~0.2 s of CPU for it (why `from_buffers`)."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store_embeddings import _commit, _result
        got = _commit(Path({str(tmp_path / "p.duckdb")!r}),
                      _result([np.full(4, 0.25, np.float32)] * 5))
        assert got[4] == [0.25] * 4, got
        print("pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
