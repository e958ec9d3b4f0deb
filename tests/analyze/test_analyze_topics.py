"""Topics: fitted on stored vectors only, stored in the database, small-data safe, triaged."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pytest
from analyze_synth import build_db

from corpus_scan.analyze import topics
from corpus_scan.analyze.topic_model import fit_topics
from corpus_scan.documents import InputError


def _q(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_fit_stores_topics_and_one_topic_per_passage(topics_db: Path) -> None:
    fit = _q(topics_db, "SELECT unit, method, n_units, n_docs, n_topics, note FROM topic_fits")
    assert len(fit) == 1
    unit, method, n_units, n_docs, n_topics, note = fit[0]
    assert (unit, method, note) == ("passage", "bertopic-hdbscan", None)
    flagged_passages = _q(
        topics_db,
        "SELECT count(*), count(DISTINCT (p.shard_id, p.row)) FROM passages p JOIN candidates c "
        "USING (run_id, shard_id, row) WHERE c.flagged",
    )[0]
    assert (n_units, n_docs) == flagged_passages
    assert _q(topics_db, "SELECT count(*) FROM passage_topics")[0][0] == n_units
    # four synthetic themes -> at least three topics found
    assert n_topics >= 3
    rows = _q(topics_db, "SELECT topic, label, terms, n_passages FROM topics ORDER BY topic")
    assert sum(r[3] for r in rows) == n_units
    assert all(r[1] and r[2] for r in rows)
    labels = " ".join(r[1] for r in rows)
    assert "blackmail" in labels and "congress" in labels
    # one majority topic per flagged document with passages
    assert _q(topics_db, "SELECT count(*) FROM doc_topics")[0][0] == n_docs


def test_never_embeds_text(synth_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sentence_transformers

    def boom(*a, **k):
        raise AssertionError("a sentence model was loaded")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", boom)
    result = topics(synth_db, reducer="pca")
    assert result.method == "bertopic-hdbscan"  # the never-embedder was not called (no fallback)
    assert "failed" not in result.message


@pytest.mark.parametrize("n", [0, 1, 2, 5, 11, 12, 25, 40, 120])
def test_small_inputs_never_crash(n: int) -> None:
    rng = np.random.default_rng(n)
    texts = [f"the ai refused shutdown number {i} blackmail" for i in range(n)]
    fit = fit_topics(texts, rng.normal(size=(n, 8)), reducer="pca", min_topic_size=10)
    assert len(fit.labels) == n and fit.xy.shape == (n, 2)
    if n == 0:
        assert fit.method == "none"
    elif n < 12:
        assert fit.method == "single" and set(fit.labels) == {0}
    else:
        assert fit.method in ("single", "bertopic-hdbscan", "bertopic-kmeans")


def test_degenerate_vectors_fall_back_without_crashing() -> None:
    texts = ["same words again"] * 30
    fit = fit_topics(texts, np.zeros((30, 4)), reducer="pca")
    assert len(fit.labels) == 30 and fit.method in ("single", "bertopic-kmeans")


def test_sampled_fit_assigns_the_rest_by_neighbours(synth_db: Path) -> None:
    result = topics(synth_db, reducer="pca", max_fit=100)
    fitted, units = _q(synth_db, "SELECT n_fitted, n_units FROM topic_fits")[0]
    assert fitted == 100 and units == result.n_units > 100
    assert _q(synth_db, "SELECT count(*) FROM passage_topics WHERE topic IS NULL")[0][0] == 0
    assert _q(synth_db, "SELECT count(*) FROM passage_topics WHERE x IS NULL")[0][0] == units - 100
    how = dict(_q(synth_db, "SELECT assigned, count(*) FROM passage_topics GROUP BY ALL"))
    assert how == {"fit": 100, "neighbours": units - 100}
    # neighbours' topics agree with the synthetic themes as well as fitted ones do
    rows = _q(
        synth_db,
        "SELECT pt.topic, pt.assigned, split_part(p.text, ' ', 2) AS theme FROM passage_topics pt "
        "JOIN passages p USING (run_id, shard_id, row, passage) WHERE pt.topic >= 0",
    )
    major: dict[int, Counter] = {}
    for topic, _, theme in rows:
        major.setdefault(topic, Counter())[theme] += 1
    best = {t: c.most_common(1)[0][0] for t, c in major.items()}
    agree = [best[t] == theme for t, how_, theme in rows if how_ == "neighbours"]
    assert sum(agree) / len(agree) > 0.9


def test_umap_path(synth_db: Path) -> None:
    result = topics(synth_db, reducer="umap")
    assert result.method == "bertopic-hdbscan" and result.n_topics >= 3
    assert _q(synth_db, "SELECT count(*) FROM passage_topics WHERE isnan(x)")[0][0] == 0


def test_without_passages_falls_back_to_evidence(tmp_path: Path) -> None:
    db = build_db(tmp_path / "lex.duckdb", passages=False)
    result = topics(db, reducer="pca")
    assert result.unit == "evidence"
    assert "no stored passage embeddings" in result.message
    assert _q(db, "SELECT DISTINCT passage FROM passage_topics") == [(-1,)]
    # asked for passages there are none of: refused, and the evidence fit stays
    with pytest.raises(InputError, match="pass --unit evidence"):
        topics(db, unit="passage")
    assert _q(db, "SELECT DISTINCT passage FROM passage_topics") == [(-1,)]


def test_vectors_of_another_embedder_are_assigned_by_words(tmp_path: Path) -> None:
    db = build_db(tmp_path / "mixed.duckdb", other_dim_every=4)
    result = topics(db, reducer="pca")
    assert "another embedder" in result.message
    assigned = dict(_q(db, "SELECT assigned, count(*) FROM passage_topics GROUP BY ALL"))
    assert assigned["words"] > 0 and assigned["fit"] > assigned["words"]
    n_flagged_passages = _q(
        db,
        "SELECT count(*) FROM passages p JOIN candidates c USING (run_id, shard_id, row) "
        "WHERE c.flagged",
    )[0][0]
    assert sum(assigned.values()) == n_flagged_passages  # none left without a topic row
    # assigned by shared words: the synthetic themes' words put them in their theme's topic
    wrong = _q(
        db,
        "SELECT count(*) FROM passage_topics pt JOIN topics t USING (run_id, topic) "
        "JOIN passages p USING (run_id, shard_id, row, passage) WHERE pt.assigned = 'words' "
        "AND NOT list_has_any(t.terms, string_split(p.text, ' '))",
    )[0][0]
    assert wrong == 0


def test_no_flagged_documents_is_not_an_error(tmp_path: Path) -> None:
    db = build_db(tmp_path / "none.duckdb", n_cand=0, hostile=False)
    result = topics(db)
    assert result.n_topics == 0 and "no flagged documents" in result.message
    assert _q(db, "SELECT method FROM topic_fits") == [("none",)]


def test_marks_drive_triaged_hits(topics_db: Path) -> None:
    def counts() -> tuple[int, int]:
        return _q(
            topics_db,
            "SELECT (SELECT count(*) FROM candidates WHERE flagged), (SELECT count(*) FROM hits)",
        )[0]

    n_hits, n_triaged = counts()
    assert n_hits == n_triaged
    biggest = _q(
        topics_db, "SELECT topic, count(*) FROM doc_topics GROUP BY topic ORDER BY 2 DESC LIMIT 1"
    )[0]
    result = topics(topics_db, mark=[f"{biggest[0]}=exclude"])
    assert not result.fitted and result.marks == [(biggest[0], "exclude")]
    assert counts() == (n_hits, n_hits - biggest[1])
    who = _q(topics_db, "SELECT who, marked_at IS NOT NULL FROM topic_decisions")
    assert who and who[0][1]
    # include wins over a majority-topic exclusion: include every other topic
    others = [t for (t,) in _q(topics_db, "SELECT topic FROM topics") if t != biggest[0]]
    topics(topics_db, mark=[f"{t}=include" for t in others])
    mixed = _q(
        topics_db,
        "SELECT count(*) FROM doc_topics d WHERE d.topic = "
        f"{biggest[0]} AND EXISTS (SELECT 1 FROM passage_topics p WHERE p.run_id = d.run_id "
        "AND p.shard_id = d.shard_id AND p.row = d.row AND p.topic <> d.topic)",
    )[0][0]
    assert counts() == (n_hits, n_hits - biggest[1] + mixed)
    topics(topics_db, mark=[f"{biggest[0]}=clear"])
    assert counts() == (n_hits, n_hits)


def test_refit_with_marks_needs_refit_flag(topics_db: Path) -> None:
    topics(topics_db, mark=["0=exclude"])
    with pytest.raises(InputError, match="--refit"):
        topics(topics_db, reducer="pca")
    again = topics(topics_db, reducer="pca", refit=True)
    assert again.fit_id == 2
    assert _q(topics_db, "SELECT count(*) FROM topic_decisions")[0][0] == 0  # old marks lapse
    assert _q(topics_db, "SELECT count(*) FROM topic_marks")[0][0] == 1  # history kept


@pytest.mark.parametrize(
    ("mark", "message"),
    [("7=maybe", "bad --mark"), ("x=exclude", "bad --mark"), ("99=exclude", "no topic 99")],
)
def test_bad_marks(topics_db: Path, mark: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        topics(topics_db, mark=[mark])


def test_marks_before_any_fit(synth_db: Path) -> None:
    with pytest.raises(InputError, match="no topics yet"):
        topics(synth_db, mark=["0=exclude"])


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such database") as err:
        topics(tmp_path / "missing.duckdb")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "missing.duckdb").exists()  # never creates a database
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    with pytest.raises(InputError) as err:
        topics(junk)
    assert "\n" not in str(err.value)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '999')")
    con.close()
    with pytest.raises(InputError, match="schema version 999"):
        topics(other)
    with pytest.raises(InputError, match="min-topic-size"):
        topics(other, min_topic_size=1)


def test_locked_database_gives_a_clear_message(synth_db: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True);"
            " time.sleep(60)",
            str(synth_db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        start = time.time()
        with pytest.raises(InputError, match="in use"):
            topics(synth_db)
        assert time.time() - start < 30
    finally:
        holder.kill()
        holder.wait()
