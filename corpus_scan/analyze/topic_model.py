"""Fit topics on vectors that are already computed: BERTopic when there is enough data, with
fallbacks that never crash on small inputs.

Nothing here embeds text. BERTopic gets `embeddings=` and an embedding model that raises if it
is ever called, and only c-TF-IDF representations (no KeyBERT, no embedding-based outlier
reduction), so a fit can never load or run a sentence model.

Ladder, by number of units n (passages or evidence windows):
- n == 0: no topics.
- n < TINY or fewer than two clusters' worth: one topic (0) with its top words.
- otherwise BERTopic with UMAP (n_neighbors <= n - 1, n_components <= n - 2, random init for
  small n) and HDBSCAN (min_cluster_size <= n / 4); if HDBSCAN finds no topic at all, or
  anything raises, BERTopic with KMeans; if that fails too, one topic.
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
    how: np.ndarray | None = None  # per unit: fit | transform (sampled fit, rest predicted)
    other_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n_topics(self) -> int:
        return len({int(t) for t in self.labels if t >= 0})


def _vectorizer(n: int):
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(
        stop_words="english",
        ngram_range=(1, 2),
        min_df=2 if n >= 200 else 1,
        max_df=1.0,
        token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9_'-]+\b",
    )


def top_words(texts: list[str], k: int = TOP_TERMS) -> list[str]:
    """The most frequent content words of some texts ([] when there are none)."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not any(t and t.strip() for t in texts):
        return []
    vec = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9_'-]+\b")
    try:
        counts = vec.fit_transform(texts)
    except ValueError:  # empty vocabulary (only stop words / numbers)
        return []
    totals = np.asarray(counts.sum(axis=0)).ravel()
    names = vec.get_feature_names_out()
    order = np.lexsort((names, -totals))[:k]
    return [str(names[i]) for i in order]


def use_umap(reducer: str, n: int) -> bool:
    """UMAP for `reducer='umap'`, or for 'auto' from UMAP_MIN units up; PCA otherwise.
    (UMAP's first fit in a process also costs ~10 s of numba compilation.)"""
    if reducer not in ("auto", "umap", "pca"):
        raise ValueError(f"reducer must be auto, umap or pca, not {reducer!r}")
    return n >= 20 and (reducer == "umap" or (reducer == "auto" and n >= UMAP_MIN))


def project_2d(
    vectors: np.ndarray, *, n_neighbors: int, seed: int, reducer: str = "auto"
) -> np.ndarray:
    """A 2-D map of the vectors: UMAP (see `use_umap`), else PCA (also when UMAP fails)."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2))
    if n < 3:
        return np.zeros((n, 2))
    if vectors.shape[1] < 2:
        return np.column_stack([vectors[:, 0], np.zeros(n)]).astype(float)
    if use_umap(reducer, n):
        try:
            from umap import UMAP

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                umap = UMAP(
                    n_components=2,
                    n_neighbors=max(2, min(n_neighbors, n - 1)),
                    min_dist=0.1,
                    metric="cosine",
                    random_state=seed,
                    init="spectral" if n >= 100 else "random",
                )
                return np.asarray(umap.fit_transform(vectors), dtype=float)
        except Exception as exc:  # noqa: BLE001 - a map is optional, PCA is fine
            log.info("UMAP 2-D failed (%s), using PCA", exc)
    from sklearn.decomposition import PCA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant vectors: zero variance
        xy = PCA(n_components=2, random_state=seed).fit_transform(vectors)
    return np.nan_to_num(np.asarray(xy, dtype=float))


def _single(
    texts: list[str], vectors: np.ndarray, note: str, seed: int, others: list[str]
) -> TopicFit:
    n = len(texts)
    xy = project_2d(vectors, n_neighbors=15, seed=seed, reducer="pca")
    words = {0: top_words(texts + others)}
    other = np.zeros(len(others), dtype=int)
    return TopicFit(np.zeros(n, dtype=int), words, xy, "single", n, {}, note, None, other)


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


def _bertopic(
    texts: list[str],
    vectors: np.ndarray,
    *,
    cluster: str,
    min_topic_size: int,
    n_neighbors: int,
    n_components: int,
    n_clusters: int,
    seed: int,
    reducer: str,
):
    from bertopic import BERTopic

    n = len(texts)
    if use_umap(reducer, n):
        from umap import UMAP

        umap_model = UMAP(
            n_neighbors=n_neighbors,
            n_components=n_components,
            min_dist=0.0,
            metric="cosine",
            random_state=seed,
            init="spectral" if n >= 100 else "random",
        )
    else:
        from sklearn.decomposition import PCA

        umap_model = PCA(n_components=n_components, random_state=seed)
    if cluster == "hdbscan":
        from hdbscan import HDBSCAN

        cluster_model = HDBSCAN(
            min_cluster_size=min_topic_size,
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=True,
        )
    else:
        from sklearn.cluster import KMeans

        cluster_model = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed)
    model = BERTopic(
        embedding_model=_no_embedder(),
        umap_model=umap_model,
        hdbscan_model=cluster_model,
        vectorizer_model=_vectorizer(n),
        min_topic_size=min_topic_size,
        top_n_words=TOP_TERMS,
        calculate_probabilities=False,
        verbose=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels, _ = model.fit_transform(texts, embeddings=vectors)
    return model, np.asarray(labels, dtype=int)


def _terms(model, labels: np.ndarray) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for t in sorted({int(x) for x in labels}):
        words = model.get_topic(t) or []
        out[t] = [str(w) for w, _ in words if w][:TOP_TERMS]
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
    vectors = np.asarray(vectors, dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 2))
    if n == 0:
        return TopicFit(np.zeros(0, dtype=int), {}, np.zeros((0, 2)), "none", 0, {}, "")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms > 0, norms, 1)  # cosine geometry for PCA and KMeans too
    size = max(2, min(min_topic_size, n // 4))
    if n < TINY or n < 2 * size:
        return _single(texts, vectors, f"only {n} units: one topic", seed, others)

    rng = np.random.default_rng(seed)
    fit_idx = np.sort(rng.choice(n, size=max_fit, replace=False)) if n > max_fit else np.arange(n)
    ftexts = [texts[i] for i in fit_idx]
    fvec = vectors[fit_idx]
    m = len(fit_idx)
    params: dict[str, Any] = {
        "min_topic_size": size,
        "n_neighbors": max(2, min(n_neighbors, m - 1)),
        "n_components": max(1, min(n_components, m - 2, vectors.shape[1])),
        "n_clusters": max(2, min(10, int(math.sqrt(m / 2)), m // size)),
        "seed": seed,
        "reducer": "umap" if use_umap(reducer, m) else "pca",
    }
    model, labels, method, note = None, None, "", ""
    for cluster in ("hdbscan", "kmeans"):
        try:
            model, labels = _bertopic(ftexts, fvec, cluster=cluster, **params)
        except Exception as exc:  # noqa: BLE001 - fall down the ladder instead of crashing
            note += f"{cluster} failed: {type(exc).__name__}: {str(exc)[:200]}; "
            model = None
            continue
        if cluster == "hdbscan" and not (labels >= 0).any():
            note += "HDBSCAN found no cluster (all outliers); "
            model = None
            continue
        method = f"bertopic-{cluster}"
        break
    if model is None or labels is None:
        return _single(texts, vectors, note + "fell back to one topic", seed, others)

    all_labels = np.full(n, -1, dtype=int)
    all_labels[fit_idx] = labels
    how = np.full(n, "transform", dtype=object)
    how[fit_idx] = "fit"
    if m < n:
        rest = np.setdiff1d(np.arange(n), fit_idx)
        for start in range(0, len(rest), 5000):
            chunk = rest[start : start + 5000]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pred, _ = model.transform([texts[i] for i in chunk], embeddings=vectors[chunk])
            all_labels[chunk] = np.asarray(pred, dtype=int)
        note += f"fitted on a sample of {m} of {n}, the rest assigned by transform; "
    xy = np.full((n, 2), np.nan)
    xy[fit_idx] = project_2d(fvec, n_neighbors=params["n_neighbors"], seed=seed, reducer=reducer)
    other = by_words(model, others)
    terms = _terms(model, np.concatenate([all_labels, other]))
    return TopicFit(all_labels, terms, xy, method, m, params, note.strip(), how, other)
