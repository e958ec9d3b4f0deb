"""Fit topics on vectors that are already computed: BERTopic when there is enough data, with
fallbacks that never crash on small inputs.

Nothing here embeds text. BERTopic gets the vectors, an embedding model that raises if it is
ever called, and only c-TF-IDF representations (no KeyBERT, no embedding-based outlier
reduction), so a fit can never load or run a sentence model.

How (n = number of units: passages or evidence windows):
- n == 0: no topics; n < TINY or fewer than two clusters' worth: one topic (0).
- Otherwise reduce the vectors (UMAP on an exact cosine kNN graph computed with scikit-learn,
  which avoids pynndescent's minute-long numba compilation; PCA below UMAP_MIN units or when
  UMAP fails), then BERTopic clusters (HDBSCAN, min_cluster_size <= n / 4) and labels topics by
  c-TF-IDF. If HDBSCAN finds no topic, or anything raises: KMeans; if that fails: one topic.
- Above `max_fit` units the fit uses a random sample; the other units take the majority topic
  of their 15 nearest fitted neighbours (cosine, original space).
- `others` (texts whose vectors come from another embedder) get the topic whose c-TF-IDF words
  they share most.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

TINY = 12  # below this many units: a single topic
TOP_TERMS = 8
UMAP_MIN = 50  # below this many units, 'auto' reduces with PCA
MAP_MAX = 5000  # units placed on the 2-D map (a random sample beyond)
TOKEN = r"(?u)\b[a-zA-Z][a-zA-Z0-9_'-]+\b"


def _no_embedder():
    from bertopic.backend import BaseEmbedder

    class _Never(BaseEmbedder):
        def embed(self, documents, verbose=False):  # noqa: ANN001 - BERTopic's signature
            raise RuntimeError("corpus-scan topics never re-embeds text (stored vectors only)")

    return _Never()


@dataclass
class TopicFit:
    labels: np.ndarray  # topic per unit; -1 = unassigned
    terms: dict[int, list[str]]  # topic -> top terms
    xy: np.ndarray  # (n, 2) map positions; NaN where not computed
    method: str  # bertopic-hdbscan | bertopic-kmeans | single | none
    n_fitted: int
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    how: list[str] | None = None  # per unit: fit | neighbours (beyond the fitted sample)
    other_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n_topics(self) -> int:
        return len({int(t) for t in np.concatenate([self.labels, self.other_labels]) if t >= 0})


def top_words(texts: list[str], k: int = TOP_TERMS) -> list[str]:
    """The most frequent content words of some texts ([] when there are none)."""
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        counts = CountVectorizer(stop_words="english", token_pattern=TOKEN).fit(texts)
        matrix = counts.transform(texts)
    except ValueError:  # empty vocabulary (no texts, only stop words or numbers)
        return []
    totals = np.asarray(matrix.sum(axis=0)).ravel()
    names = counts.get_feature_names_out()
    order = np.lexsort((names, -totals))[:k]
    return [str(names[i]) for i in order]


def use_umap(reducer: str, n: int) -> bool:
    """UMAP for `reducer='umap'`, or for 'auto' from UMAP_MIN units up; PCA otherwise.
    (UMAP's first fit in a process also costs ~10 s of numba compilation.)"""
    if reducer not in ("auto", "umap", "pca"):
        raise ValueError(f"reducer must be auto, umap or pca, not {reducer!r}")
    return n >= 20 and (reducer == "umap" or (reducer == "auto" and n >= UMAP_MIN))


def knn(vectors: np.ndarray, k: int, queries: np.ndarray | None = None, block: int = 1024):
    """Exact cosine nearest neighbours (indices, distances) of L2-normalised float32 vectors,
    best first; brute force in blocks of `block` queries (block x n floats at a time)."""
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    q = base if queries is None else np.ascontiguousarray(queries, dtype=np.float32)
    k = min(k, len(base))
    idx = np.empty((len(q), k), dtype=np.int64)
    dist = np.empty((len(q), k), dtype=np.float32)
    for s in range(0, len(q), block):
        sims = q[s : s + block] @ base.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        idx[s : s + block] = np.take_along_axis(part, order, axis=1)
        dist[s : s + block] = 1 - np.take_along_axis(top, order, axis=1)
    return idx, np.clip(dist, 0, 2)


def reduce(
    vectors: np.ndarray, n_components: int, *, n_neighbors: int, seed: int, reducer: str,
    min_dist: float = 0.0,
) -> tuple[np.ndarray, str]:  # fmt: skip
    """(reduced vectors, 'umap' | 'pca')."""
    n, dim = vectors.shape
    n_components = max(1, min(n_components, dim, n - 1))
    if use_umap(reducer, n) and n_components < n - 2:
        try:
            from umap import UMAP

            k = max(2, min(n_neighbors, n - 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = UMAP(
                    n_components=n_components,
                    n_neighbors=k,
                    min_dist=min_dist,
                    metric="cosine",
                    random_state=seed,
                    init="spectral" if n >= 100 else "random",
                    precomputed_knn=(*knn(vectors, k), None),
                )
                return np.asarray(model.fit_transform(vectors), dtype=np.float32), "umap"
        except Exception as exc:  # noqa: BLE001 - PCA is a fine fallback
            log.info("UMAP failed (%s), using PCA", exc)
    from sklearn.decomposition import PCA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant vectors: zero variance
        out = PCA(n_components=n_components, random_state=seed).fit_transform(vectors)
    return np.nan_to_num(np.asarray(out, dtype=np.float32)), "pca"


def project_2d(
    vectors: np.ndarray, *, n_neighbors: int, seed: int, reducer: str = "auto"
) -> np.ndarray:
    """A 2-D map of the vectors (UMAP or PCA as `reduce`)."""
    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2))
    if vectors.shape[1] < 2:
        return np.column_stack([vectors[:, 0], np.zeros(n)]).astype(float)
    xy, _ = reduce(vectors, 2, n_neighbors=n_neighbors, seed=seed, reducer=reducer, min_dist=0.1)
    return xy.astype(float)


def by_words(model, texts: list[str]) -> np.ndarray:
    """Topics for texts without usable vectors: the topic whose c-TF-IDF words they share most
    (as BERTopic's c-tf-idf outlier reduction; no embedding). -1 when they share none."""
    if not texts:
        return np.zeros(0, dtype=int)
    from sklearn.metrics.pairwise import cosine_similarity

    ids = np.array(sorted(model.get_topics()))  # the rows of c_tf_idf_, -1 first if present
    sim = cosine_similarity(
        model.ctfidf_model.transform(model.vectorizer_model.transform(texts)), model.c_tf_idf_
    )
    sim[:, ids < 0] = 0
    best = sim.argmax(axis=1)
    return np.where(sim.max(axis=1) > 0, ids[best], -1).astype(int)


def _bertopic(texts: list[str], reduced: np.ndarray, *, cluster: str, size: int, k: int, seed):
    from bertopic import BERTopic
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    if cluster == "hdbscan":
        from hdbscan import HDBSCAN

        cluster_model = HDBSCAN(min_cluster_size=size, metric="euclidean", prediction_data=False)
    else:
        from sklearn.cluster import KMeans

        cluster_model = KMeans(n_clusters=k, n_init=10, random_state=seed)
    # min_df stays 1: BERTopic fits the vectorizer on one document per topic, so min_df=2 would
    # keep only words shared by two topics, i.e. drop every distinctive one.
    vectorizer = CountVectorizer(
        stop_words="english", ngram_range=(1, 2), token_pattern=TOKEN, max_features=100_000
    )
    model = BERTopic(
        embedding_model=_no_embedder(),
        umap_model=BaseDimensionalityReduction(),  # vectors arrive reduced
        hdbscan_model=cluster_model,
        vectorizer_model=vectorizer,
        min_topic_size=size,
        top_n_words=TOP_TERMS,
        calculate_probabilities=False,
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels, _ = model.fit_transform(texts, embeddings=reduced)
    return model, np.asarray(labels, dtype=int)


def _terms(model, labels: np.ndarray) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for t in sorted({int(x) for x in labels}):
        words = model.get_topic(t) or []
        out[t] = [str(w) for w, _ in words if w][:TOP_TERMS]
    return out


def _single(texts, vectors, note: str, seed: int, others: list[str]) -> TopicFit:
    n = len(texts)
    xy = project_2d(vectors, n_neighbors=15, seed=seed, reducer="pca")
    other = np.zeros(len(others), dtype=int)
    words = {0: top_words(texts + others)}
    return TopicFit(np.zeros(n, dtype=int), words, xy, "single", n, {}, note, None, other)


def _vote(vectors: np.ndarray, fit_idx: np.ndarray, labels: np.ndarray, rest: np.ndarray):
    """Majority topic of the 15 nearest fitted units, for units beyond the fitted sample."""
    k = min(15, len(fit_idx))
    out = np.empty(len(rest), dtype=int)
    for start in range(0, len(rest), 20_000):
        chunk = rest[start : start + 20_000]
        idx, _ = knn(vectors[fit_idx], k, vectors[chunk])
        for i, row in enumerate(labels[idx]):
            values, counts = np.unique(row, return_counts=True)
            out[start + i] = values[np.argmax(counts)]
    return out


def fit_topics(
    texts: list[str],
    vectors: np.ndarray,
    *,
    min_topic_size: int = 10,
    n_neighbors: int = 15,
    n_components: int = 5,
    max_fit: int = 20_000,
    reducer: str = "auto",
    seed: int = 42,
    others: list[str] | None = None,
) -> TopicFit:
    """Topics for `texts` from their precomputed `vectors` (one row per text). `others`: texts
    whose vectors live in another space (another embedder), assigned by topic words. Never
    raises for lack of data; the method used is in the result."""
    n = len(texts)
    others = list(others or [])
    if n == 0:
        return TopicFit(np.zeros(0, dtype=int), {}, np.zeros((0, 2)), "none", 0, {}, "")
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1)  # cosine geometry for PCA and KMeans too
    size = max(2, min(min_topic_size, n // 4))
    if n < TINY or n < 2 * size:
        return _single(texts, vectors, f"only {n} units: one topic", seed, others)

    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, size=max_fit, replace=False)) if n > max_fit else np.arange(n)
    m = len(fit_idx)
    k = max(2, min(10, int(math.sqrt(m / 2)), m // size))
    reduced, used = reduce(
        vectors[fit_idx], n_components, n_neighbors=n_neighbors, seed=seed, reducer=reducer
    )
    params = {"min_topic_size": size, "n_neighbors": n_neighbors, "reducer": used}
    params |= {"n_components": int(reduced.shape[1]), "n_clusters_kmeans": k, "seed": seed}
    ftexts = [texts[i] for i in fit_idx]
    model, labels, method, note = None, None, "", ""
    for cluster in ("hdbscan", "kmeans"):
        try:
            model, labels = _bertopic(ftexts, reduced, cluster=cluster, size=size, k=k, seed=seed)
        except Exception as exc:  # noqa: BLE001 - fall down the ladder instead of crashing
            note += f"{cluster} failed: {type(exc).__name__}: {str(exc)[:200]}; "
            model = None
            continue
        if cluster == "hdbscan" and not (labels >= 0).any():
            note += "HDBSCAN found no cluster (all outliers), used KMeans; "
            model = None
            continue
        method = f"bertopic-{cluster}"
        break
    if model is None or labels is None:
        return _single(texts, vectors, note + "fell back to one topic", seed, others)

    all_labels = np.full(n, -1, dtype=int)
    all_labels[fit_idx] = labels
    how = ["neighbours"] * n
    for i in fit_idx:
        how[i] = "fit"
    if m < n:
        rest = np.setdiff1d(np.arange(n), fit_idx)
        all_labels[rest] = _vote(vectors, fit_idx, labels, rest)
        note += f"fitted on a sample of {m} of {n}; the rest took their nearest neighbours' topic; "
    on_map = fit_idx if m <= MAP_MAX else np.sort(rng.choice(fit_idx, MAP_MAX, replace=False))
    xy = np.full((n, 2), np.nan)
    xy[on_map] = project_2d(vectors[on_map], n_neighbors=n_neighbors, seed=seed, reducer=reducer)
    other = by_words(model, others)
    terms = _terms(model, np.concatenate([all_labels, other]))
    return TopicFit(all_labels, terms, xy, method, m, params, note.strip().rstrip(";"), how,
                    other)
