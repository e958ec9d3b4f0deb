"""`topics`: narrative topics of flagged passages, stored in the scan database, and their triage.

Fits on the embeddings the scan stored with each passage (never re-embedding). When a run has
no stored passage embeddings (e.g. the lexical scorer), it falls back to the candidates'
evidence windows with TF-IDF/SVD vectors and says so (`unit = 'evidence'`).
"""

from __future__ import annotations

import getpass
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpus_scan.analyze.common import first_row, open_db, resolve_run, scalar
from corpus_scan.analyze.queries import TOPICS, execute
from corpus_scan.analyze.tables import ensure_tables
from corpus_scan.analyze.topic_model import TopicFit, fit_topics
from corpus_scan.documents import InputError

DECISIONS = ("include", "exclude", "clear")
UNIT_NAMES = {"passage": "passages", "evidence": "evidence windows"}
_MARK = re.compile(r"^\s*(-?\d+)\s*=\s*([a-z]+)\s*$")


@dataclass
class TopicRow:
    topic: int
    label: str
    n_passages: int
    n_docs: int
    n_majority_docs: int
    decision: str  # include | exclude | '' (undecided)


@dataclass
class TopicsResult:
    db: str
    run_id: int
    fit_id: int | None
    fitted: bool  # False when the call only recorded marks
    unit: str  # passage | evidence | ''
    method: str
    n_units: int
    n_docs: int
    topics: list[TopicRow] = field(default_factory=list)
    marks: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def n_topics(self) -> int:
        return sum(1 for t in self.topics if t.topic >= 0)


def parse_marks(marks: list[str]) -> list[tuple[int, str]]:
    """'7=exclude' -> (7, 'exclude'); InputError on anything else."""
    out = []
    for m in marks:
        hit = _MARK.match(m.lower())
        if not hit or hit.group(2) not in DECISIONS:
            raise InputError(f"bad --mark {m!r}: use TOPIC=include, TOPIC=exclude or TOPIC=clear")
        out.append((int(hit.group(1)), hit.group(2)))
    return out


def topics(
    db: str | Path,
    *,
    mark: list[str] | str | None = None,
    run_id: int | None = None,
    min_topic_size: int = 10,
    n_neighbors: int = 15,
    n_components: int = 5,
    max_fit: int = 20_000,
    reducer: str = "auto",
    unit: str = "auto",
    refit: bool = False,
    seed: int = 42,
) -> TopicsResult:
    """Fit topics on the flagged passages of a run (default: the latest) and store them, or,
    with `mark`, record triage decisions ('7=exclude', '3=include', '3=clear') on the stored
    topics without refitting. Refitting a run whose topics carry decisions needs `refit=True`
    (topic numbers change, so those decisions stop applying).

    `max_fit`: passages the model is fitted on (a random sample beyond; the rest take their
    nearest fitted neighbours' topic). `reducer`: auto (UMAP from 50 passages, else PCA) | umap
    | pca. `unit`: auto (passages, else evidence windows) | passage | evidence."""
    if unit not in ("auto", "passage", "evidence"):
        raise InputError(f"unit must be auto, passage or evidence, not {unit!r}")
    if reducer not in ("auto", "umap", "pca"):
        raise InputError(f"reducer must be auto, umap or pca, not {reducer!r}")
    for name, value, least in (
        ("min-topic-size", min_topic_size, 2),
        ("n-neighbors", n_neighbors, 2),
        ("n-components", n_components, 1),
        ("max-fit", max_fit, 100),
    ):
        if value < least:
            raise InputError(f"--{name} must be at least {least}, got {value}")
    parsed = parse_marks([mark] if isinstance(mark, str) else mark) if mark else []
    con = open_db(db, write=True)
    try:
        ensure_tables(con)
        run = resolve_run(con, run_id, db)
        if parsed:
            if refit:  # two acts in one command would leave the marks on the wrong fit
                raise InputError("--mark records decisions on the stored topics and --refit "
                                 "replaces them: run `topics --refit` first, then --mark")
            return _mark(con, db, run, parsed)
        n_marks = scalar(con, "SELECT count(*) FROM topic_decisions WHERE run_id = ?", [run])
        if n_marks and not refit:
            raise InputError(
                f"run {run} already has topics with {n_marks} triage decision(s); pass --refit "
                "to fit again (topic numbers change, so those decisions will no longer apply)"
            )
        params = dict(
            min_topic_size=min_topic_size, n_neighbors=n_neighbors, n_components=n_components,
            max_fit=max_fit, reducer=reducer, seed=seed,
        )  # fmt: skip
        return _fit(con, db, run, unit, params)
    finally:
        con.close()


def current_topics(con: duckdb.DuckDBPyConnection, run_id: int) -> list[TopicRow]:
    table = execute(con, TOPICS.sql(run_id))
    return [TopicRow(*r) for r in table.rows]


def _mark(con, db, run: int, parsed: list[tuple[int, str]]) -> TopicsResult:
    fit = first_row(
        con,
        "SELECT fit_id, unit, method, n_units, n_docs, "
        "  fitted_at < (SELECT max(finished_at) FROM shards WHERE run_id = $1) AS stale "
        "FROM topic_fits WHERE run_id = $1 ORDER BY fit_id DESC LIMIT 1",
        [run],
    )
    if fit is None:
        raise InputError(f"run {run} has no topics yet: run `corpus-scan topics --db {db}` first")
    known = {r.topic for r in current_topics(con, run)}
    unknown = sorted({t for t, _ in parsed} - known)
    if unknown:
        have = ", ".join(map(str, sorted(known))) or "none"
        raise InputError(f"run {run} has no topic {unknown[0]} (topics: {have})")
    who = getpass.getuser()
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN")
    next_id = scalar(con, "SELECT coalesce(max(mark_id), 0) + 1 FROM topic_marks")
    con.executemany(
        "INSERT INTO topic_marks VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(next_id + i, run, fit[0], t, d, who, now) for i, (t, d) in enumerate(parsed)],
    )
    con.execute("COMMIT")
    after = (
        scalar(con, "SELECT count(*) FROM candidates WHERE run_id = ? AND flagged", [run]),
        scalar(con, "SELECT count(*) FROM triaged_hits WHERE run_id = ?", [run]),
    )
    # documents committed after the fit have no topic, so no mark can reach them
    warns = [
        f"the topics of run {run} were fitted before its last shard commits: documents "
        "scanned since have no topic and these marks do not apply to them; run "
        "`topics --refit`, then mark again"
    ] if fit[5] else []
    return TopicsResult(
        str(db), run, int(fit[0]), False, fit[1], fit[2], int(fit[3]), int(fit[4]),
        current_topics(con, run), parsed, 0.0,
        f"run {run}: recorded {len(parsed)} decision(s) as {who}; flagged documents "
        f"{after[0]} before triage, {after[1]} after", warns,
    )  # fmt: skip


def _load_passages(con, run: int) -> tuple[pa.Table, np.ndarray, pa.Table, str]:
    """Flagged passages with vectors. Vectors of one length only (one embedder): the length
    most flagged documents have; the rest come back apart, as `others`, with a note."""
    table = con.sql(
        "SELECT p.shard_id, p.row, p.passage, coalesce(p.text, '') AS text, p.embedding "
        "FROM passages p JOIN candidates c "
        "  ON c.run_id = p.run_id AND c.shard_id = p.shard_id AND c.row = p.row "
        "WHERE p.run_id = $run AND c.flagged AND len(p.embedding) > 0 "
        "ORDER BY p.shard_id, p.row, p.passage",
        params={"run": run},
    ).to_arrow_table()
    if table.num_rows == 0:
        empty = table.drop_columns(["embedding"])
        return empty, np.zeros((0, 0), dtype=np.float32), empty, ""
    lengths = pc.list_value_length(table["embedding"]).to_numpy(zero_copy_only=False)
    docs: dict[int, set] = {}
    for d, s, r in zip(lengths.tolist(), table["shard_id"].to_pylist(), table["row"].to_pylist(),
                       strict=True):  # fmt: skip
        docs.setdefault(d, set()).add((s, r))
    dim = max(docs, key=lambda d: (len(docs[d]), d))
    keep = pa.array(lengths == dim)
    main = table.filter(keep)
    others = table.filter(pc.invert(keep)).drop_columns(["embedding"])
    note = ""
    if others.num_rows:
        note = (
            f"{others.num_rows} passages have vectors from another embedder (not {dim}-d); "
            "they were given the topic whose words they share most. "
        )
    values = main["embedding"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    vectors = values.astype(np.float32, copy=False).reshape(main.num_rows, dim)
    return main.drop_columns(["embedding"]), vectors, others, note


def _load_evidence(con, run: int) -> tuple[pa.Table, np.ndarray]:
    table = con.sql(
        "SELECT shard_id, row, -1 AS passage, evidence AS text FROM candidates "
        "WHERE run_id = $run AND flagged AND coalesce(evidence, '') <> '' "
        "ORDER BY shard_id, row",
        params={"run": run},
    ).to_arrow_table()
    return table, tfidf_vectors(table["text"].to_pylist())


def tfidf_vectors(texts: list[str], dims: int = 64) -> np.ndarray:
    """Lexical vectors for the evidence fallback: TF-IDF reduced by SVD, L2-normalised."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    n = len(texts)
    if n == 0:
        return np.zeros((0, 1), dtype=np.float32)
    try:
        tfidf = TfidfVectorizer(
            stop_words="english", sublinear_tf=True, min_df=2 if n >= 200 else 1,
            max_features=50_000,
        ).fit_transform(texts)  # fmt: skip
    except ValueError:  # nothing but stop words
        return np.zeros((n, 1), dtype=np.float32)
    k = min(dims, tfidf.shape[1] - 1, n - 1)
    dense = TruncatedSVD(k, random_state=0).fit_transform(tfidf) if k >= 2 else tfidf.toarray()
    return normalize(dense).astype(np.float32)


def _fit(con, db, run: int, unit: str, params: dict) -> TopicsResult:
    start = time.perf_counter()
    n_flagged = scalar(con, "SELECT count(*) FROM candidates WHERE run_id = ? AND flagged", [run])
    detector = scalar(con, "SELECT detector FROM runs WHERE run_id = ?", [run])
    note = "" if n_flagged else f"run {run} has no flagged documents: no topics. "
    chosen = "evidence" if unit == "evidence" else "passage"
    others = None
    if chosen == "passage":
        units, vectors, others, other_note = _load_passages(con, run)
        note += other_note
        if n_flagged and units.num_rows == 0:
            note = f"no stored passage embeddings for the flagged documents (detector {detector}); "
            if unit != "auto":  # refuse before anything stored is replaced
                raise InputError(
                    f"run {run}: {note}pass --unit evidence (or auto) for TF-IDF topics of the "
                    "evidence windows; the stored topics are unchanged")
            note += "topics fitted on evidence windows with TF-IDF/SVD vectors instead. "
            chosen = "evidence"
    if chosen == "evidence":
        units, vectors = _load_evidence(con, run)
        others = None
    texts = units["text"].to_pylist()
    other_texts = others["text"].to_pylist() if others is not None else []
    fit = fit_topics(texts, vectors, others=other_texts, **params)
    if others is not None and others.num_rows:
        units = pa.concat_tables([units, others.cast(units.schema)])
        texts = texts + other_texts
    keys = zip(units["shard_id"].to_pylist(), units["row"].to_pylist(), strict=True)
    n_docs = len(set(keys))
    fit_id = _store(con, run, units, fit, chosen, n_docs, time.perf_counter() - start, note)
    rows = current_topics(con, run)
    seconds = time.perf_counter() - start
    message = (
        f"run {run}: {len(texts)} {UNIT_NAMES[chosen]} of {n_docs} flagged documents -> "
        f"{fit.n_topics} topic(s) ({fit.method}) in {seconds:.1f} s"
    )
    if note or fit.note:
        message += f"\nnote: {_join(note, fit.note)}"
    return TopicsResult(
        str(db), run, fit_id, True, chosen, fit.method, len(texts), n_docs, rows, [],
        seconds, message,
    )  # fmt: skip


def _join(*notes: str) -> str:
    return " ".join(n.strip() for n in notes if n and n.strip())


def _label(topic: int, terms: list[str]) -> str:
    words = ", ".join(terms[:4]) if terms else "(no distinctive words)"
    return f"unassigned: {words}" if topic < 0 else words


def _store(con, run, units: pa.Table, fit: TopicFit, chosen, n_docs, seconds, note) -> int:
    n = units.num_rows
    n_main = len(fit.labels)
    how = list(fit.how) if fit.how is not None else ["fit"] * n_main
    xy = np.vstack([fit.xy.reshape(-1, 2), np.full((n - n_main, 2), np.nan)])
    pt = pa.table(
        {
            "run_id": pa.array([run] * n, pa.int32()),
            "shard_id": units["shard_id"].cast(pa.int32()),
            "row": units["row"].cast(pa.int64()),
            "passage": units["passage"].cast(pa.int32()),
            "topic": pa.array(
                np.concatenate([fit.labels, fit.other_labels]).astype(np.int32), pa.int32()
            ),
            "assigned": pa.array(how + ["words"] * (n - n_main), pa.string()),
            "x": pa.array(xy[:, 0], pa.float64(), from_pandas=True),
            "y": pa.array(xy[:, 1], pa.float64(), from_pandas=True),
        }
    )
    labels = pa.table(
        {
            "topic": pa.array(list(fit.terms), pa.int32()),
            "label": pa.array([_label(t, w) for t, w in fit.terms.items()], pa.string()),
            "terms": pa.array(list(fit.terms.values()), pa.list_(pa.string())),
        }
    )
    con.execute("BEGIN")
    try:
        fit_id = scalar(con, "SELECT coalesce(max(fit_id), 0) + 1 FROM topic_fits")
        con.execute("DELETE FROM passage_topics WHERE run_id = ?", [run])
        con.execute("DELETE FROM topics WHERE run_id = ?", [run])
        con.register("_pt", pt)
        con.execute("INSERT INTO passage_topics BY NAME SELECT * FROM _pt")
        con.unregister("_pt")
        con.register("_labels", labels)
        con.execute(
            "INSERT INTO topics SELECT $run, $fit, l.topic, l.label, l.terms, "
            "  count(pt.topic), count(DISTINCT (pt.shard_id, pt.row)), avg(pt.x), avg(pt.y) "
            "FROM _labels l LEFT JOIN passage_topics pt ON pt.run_id = $run AND pt.topic = l.topic "
            "GROUP BY ALL",
            {"run": run, "fit": fit_id},
        )
        con.unregister("_labels")
        con.execute(
            "INSERT INTO topic_fits VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                fit_id, run, datetime.now(UTC).replace(tzinfo=None), chosen, fit.method, n,
                fit.n_fitted, n_docs, fit.n_topics, json.dumps(fit.params), round(seconds, 3),
                _join(note, fit.note) or None,
            ],
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(fit_id)
