"""Training helpers: own examples are well-formed, metrics, band/threshold choice, distillation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus_scan.training import evaluate
from corpus_scan.training.data import CATEGORIES, OWN_DIR, STANCES, Example, load_own, shared_dir
from corpus_scan.training.evaluate import bootstrap_interval, format_table, metrics
from corpus_scan.training.fit import best_f1_threshold, choose_band, top_rows

WEB = shared_dir() / "corpora" / "web-jsonl"


def test_own_examples_are_well_formed() -> None:
    ex = load_own()
    assert len(ex) >= 150
    assert {e.label for e in ex} == {0, 1}
    for e in ex:
        assert e.text.strip() and e.group.startswith("own:")
        if e.label == 1:
            assert e.category in CATEGORIES and e.stance == "resists"
        assert e.stance is None or e.stance in STANCES
    ids = [json.loads(line)["id"] for p in Path(OWN_DIR).glob("*.jsonl")
           for line in p.read_text(encoding="utf-8").splitlines()]
    assert len(ids) == len(set(ids))


def test_metrics_and_table() -> None:
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.4, 0.6, 0.1])
    m = metrics("x", p, y, ["a", "a", "b", "b"], 0.5)
    assert (m.precision, m.recall) == (0.5, 0.5)
    assert m.per_subtype == {"0:b": (1, 2), "1:a": (1, 2)}
    assert "x" in format_table([m])


def test_bootstrap_interval_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    groups = [f"g{i // 3}" for i in range(300)]  # 3 documents per group, resampled together
    perfect = bootstrap_interval(y.astype(float), y, 0.5, groups, n=200)
    assert perfect == {"precision": (1.0, 1.0), "recall": (1.0, 1.0), "f1": (1.0, 1.0)}
    noisy = np.where(rng.random(300) < 0.8, y, 1 - y).astype(float)
    ci = bootstrap_interval(noisy, y, 0.5, groups, n=500)
    point = metrics("x", noisy, y, ["s"] * 300, 0.5)
    for name, value in (("precision", point.precision), ("recall", point.recall),
                        ("f1", point.f1)):
        lo, hi = ci[name]
        assert lo < value < hi and hi - lo < 0.25
    assert bootstrap_interval(noisy, y, 0.5, groups, n=500) == ci  # seeded


def test_repeated_cv_pools_every_split_and_splits_by_ambiguity(monkeypatch) -> None:
    dev = [Example(f"d{i}", "t", i % 2, "dev", f"g{i}", "s", extra={"ambiguous": i < 4})
           for i in range(10)]
    y = np.array([e.label for e in dev])
    seen = []

    def fake_cv(dev_, extra_, seed, device, oof, **_):  # seed 0 errs on an unambiguous item only
        seen.append(seed)
        p = y.astype(float)
        if seed == 0:
            p[9] = 0.0
        oof.update(y=y, cascade=p)
        return [metrics("cascade", p, y, ["s"] * 10, 0.5)]

    monkeypatch.setattr(evaluate, "cross_validate", fake_cv)
    rep = evaluate.repeated_cv([0, 1, 2], dev=dev, extra=[])
    assert seen == [0, 1, 2]
    f1 = rep.runs["cascade"][:, 2]
    assert f1[0] < 1.0 and list(f1[1:]) == [1.0, 1.0]
    assert list(rep.subsets["ambiguous items (4)"]) == [1.0, 1.0, 1.0]
    assert rep.subsets["unambiguous items (6)"][0] < 1.0
    assert "mean (sd) over 3 fold splits" in rep.table()
    summary = json.loads(json.dumps(rep.summary()))  # what head.json `cv` records
    cascade = summary["systems"]["cascade"]
    assert summary["seeds"] == [0, 1, 2] and summary["n"] == 10
    assert cascade["f1"] == round(float(f1.mean()), 4) and cascade["f1_sd"] > 0
    assert cascade["f1_range"] == [round(float(f1[0]), 4), 1.0]
    assert summary["cascade_f1_by_subset"]["ambiguous items (4)"] == 1.0


def test_threshold_and_band() -> None:
    y = np.array([1] * 10 + [0] * 10)
    p = np.r_[np.linspace(0.55, 0.95, 10), np.linspace(0.05, 0.45, 10)]
    assert 0.45 <= best_f1_threshold(p, y) <= 0.55
    p2 = p.copy()
    p2[0], p2[10] = 0.4, 0.6  # two mistakes near the threshold
    lo, hi = choose_band(p2, 0.5, y)
    assert lo <= 0.4 and hi >= 0.6 and lo <= 0.5 <= hi


@pytest.mark.slow
def test_static_model_distils_offline(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    from corpus_scan.detect.embed import StaticEmbedder
    from corpus_scan.local_models.distill import build_static_model

    build_static_model(tmp_path / "m2v")
    assert "Loading weights" not in capfd.readouterr().err  # `scan --no-progress` stays quiet
    emb = StaticEmbedder(tmp_path / "m2v")
    v = emb.encode(["The AI refused to be shut down.", "Bread recipes for beginners."])
    assert v.shape == (2, emb.dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)


def test_band_respects_the_minilm_budget() -> None:
    rng = np.random.default_rng(0)
    y = np.array([1] * 10 + [0] * 10)
    p = np.r_[np.linspace(0.3, 0.95, 10), np.linspace(0.05, 0.6, 10)]
    web = rng.uniform(0.0, 0.2, 200)  # the natural workload: mostly low static scores
    lo, hi = choose_band(p, 0.5, y, web, budget=0.05)
    assert ((web >= lo) & (web <= hi)).mean() <= 0.05
    wrong = (p >= 0.5) != (y == 1)
    assert lo <= 0.5 <= hi and ((p >= lo) & (p <= hi) & wrong).sum() == wrong.sum()
    lo2, _ = choose_band(p, 0.5, y, np.full(100, 0.45), budget=0.05)
    assert lo2 > 0.45  # a crowded region of web scores is kept out of the band


def test_top_rows_picks_best_static_passages() -> None:
    class Head:
        def passage_logits(self, x: np.ndarray) -> np.ndarray:
            return x[:, 0]

    x = np.array([[0.1], [0.9], [0.5], [0.7]])
    assert top_rows(Head(), x, 2).tolist() == [1, 3]  # type: ignore[arg-type]
    assert top_rows(Head(), x[:2], 2).tolist() == [0, 1]  # type: ignore[arg-type]


@pytest.mark.slow
def test_web_halves_and_shipped_head_on_web() -> None:
    if not WEB.exists():
        pytest.skip(f"needs shared/corpora/web-jsonl at {WEB} (absent on this machine)")
    from corpus_scan.training.data import load_web_negatives, web_half
    from corpus_scan.training.evaluate import web_check

    neg = load_web_negatives(n_random=20, halves=(1,))
    assert neg and all(web_half(e.id) == 1 and e.label == 0 for e in neg)
    n_docs, n_cand, flags, stats = web_check()
    assert n_docs > 20_000 and 0 < n_cand < 0.01 * n_docs
    # every web candidate was read and none carries the narrative; the shipped head trained on
    # all of them as negatives (in-sample), so it should flag almost none
    assert len(flags) <= 2
    assert stats["minilm_share"] <= 0.95


def test_shipped_head_records_its_recipe() -> None:
    from corpus_scan.detect.classify import HEAD_VERSION, MODELS_DIR
    from corpus_scan.training.fit import HEAD_FEATURES, MINILM_PASSAGES

    m = json.loads((MODELS_DIR / "head.json").read_text(encoding="utf-8"))
    assert m["version"] == HEAD_VERSION
    assert m["features"] == HEAD_FEATURES and m["minilm_passages"] == MINILM_PASSAGES
    assert "webtext-test-2396" not in (MODELS_DIR / "head.json").read_text(encoding="utf-8")


@pytest.mark.slow
def test_train_reproduces_the_shipped_head(tmp_path: Path) -> None:
    """`corpus-scan train` rebuilds the shipped head from the inputs: the training-data hashes
    match the current inputs and the refit arrays equal the shipped ones. About 2 minutes on 2
    cores with warm embedding caches ($CORPUS_SCAN_CACHE); cold, MiniLM embeds ~2,900
    passages once (~5 minutes)."""
    if not WEB.exists() or not (shared_dir() / "labeled" / "dev.jsonl").exists():
        pytest.skip("needs ../shared/labeled/dev.jsonl and ../shared/corpora/web-jsonl")
    from corpus_scan.detect.classify import MODELS_DIR
    from corpus_scan.training.data import load_dev, load_extra
    from corpus_scan.training.fit import data_hashes, head_differences
    from corpus_scan.training.recipe import train

    shipped = json.loads((MODELS_DIR / "head.json").read_text(encoding="utf-8"))
    assert data_hashes(load_dev() + load_extra()) == shipped["training_data_sha256"]
    train(tmp_path)
    assert head_differences(MODELS_DIR, tmp_path) == []
    # retrained in place (a copy of the shipped folder), the recorded CV figures stay: the
    # head they describe was reproduced; a head that differs drops them
    (tmp_path / "head.json").write_text(json.dumps(shipped), encoding="utf-8")
    train(tmp_path)
    assert json.loads((tmp_path / "head.json").read_text(encoding="utf-8"))["cv"] == shipped["cv"]
    stale = {**shipped, "thresholds": {**shipped["thresholds"], "cascade": 0.99}}
    (tmp_path / "head.json").write_text(json.dumps(stale), encoding="utf-8")
    train(tmp_path)
    assert "cv" not in json.loads((tmp_path / "head.json").read_text(encoding="utf-8"))


def test_concurrent_static_model_builders_wait_for_one_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers of a first scan must not build the static model at the same time: callers
    queue on a file lock, and one build writes every file atomically, meta.json last."""
    import threading

    from corpus_scan.local_models import distill

    builds: list[int] = []

    def fake_build(out: Path, device: str = "cpu") -> Path:
        builds.append(1)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("vectors.npy", "tokenizer.json"):
            (out / name).write_bytes(b"x")
        import time

        time.sleep(0.3)  # the other callers arrive while this one builds
        (out / "meta.json").write_text("{}", encoding="utf-8")
        return out

    monkeypatch.setattr(distill, "build_static_model", fake_build)
    target = tmp_path / "static"
    threads = [
        threading.Thread(target=distill.ensure_static_model, args=(target,)) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and (target / "meta.json").exists()


def test_aux_accuracy_counts_accepts_on_all_of_dev() -> None:
    """`accepts` precision counts every dev item called accepts (what --upsample-accepting
    would copy), not only the AI-accepts negatives."""
    def ex(i: int, label: int, subtype: str, stance: str | None, category: str | None = None):
        return Example(f"d{i}", "t", label, "dev", f"g{i}", subtype, category, stance)

    dev = [ex(0, 1, "fiction", "resists", "fiction"), ex(1, 0, "ai_accepts_shutdown", "accepts"),
           ex(2, 0, "ai_accepts_shutdown", "accepts"), ex(3, 0, "human_blackmail", "unclear")]
    aux = evaluate._aux(dev, ["fiction", "other", "other", "other"],
                        ["resists", "accepts", "unclear", "accepts"])
    assert aux.accepts == (1, 2, 2)
    assert aux.stance == (2, 3) and aux.category == (1, 1)
    assert "accepts recall 1/2, precision 1/2" in aux.row()
