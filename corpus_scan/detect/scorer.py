"""Scorers for prefilter candidates: the semantic cascade and the keyword-only fallback.

- `CascadeScorer(mode="cascade")`: static (model2vec) tier for every candidate; candidates
  whose calibrated static probability lies inside the uncertainty band (chosen on
  out-of-fold scores under a compute budget, see `training.fit.choose_band`, stored in
  `models/head.json`) are re-scored by the MiniLM tier on their best `minilm_passages`
  passages (by static score), and MiniLM then decides.
  `mode="minilm"` runs MiniLM on every candidate (same passage cap); `mode="static"` never.
  `stats` counts documents and passages per tier and the seconds spent in each.
- `LexicalScorer`: the prefilter's own lexical score (no models), also the keyword baseline.

`load_scorer(name, device)` builds one of: cascade (default) | minilm | static | lexical.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus_scan.detect.base import Candidate, Passage, Scorer, Verdict
from corpus_scan.detect.cascade import SCORERS, check_device
from corpus_scan.detect.classify import Head, load_head
from corpus_scan.detect.embed import (
    PROBE_TOLERANCE,
    Embedder,
    embedder_probe,
    minilm_backend,
)
from corpus_scan.detect.features import (
    candidate_features,
    feature_matrix,
    find_spans,
    lexical_score,
)
from corpus_scan.detect.head_dir import load_head_dir
from corpus_scan.detect.passages import make_passages
from corpus_scan.documents import InputError

SCORER_NAMES = SCORERS
_WARNED: set[str] = set()


def warn_lexicon_mismatch(expected: str | None, actual: str | None) -> bool:
    """Warn once per process when the lexicon differs from the one the head was trained with
    (candidate features and passage windows then differ from training). True on mismatch."""
    if not expected or not actual or expected == actual:
        return False
    _warn_once(f"{expected}:{actual}",
               f"lexicon hash {actual[:12]} differs from the one the narrative head was trained "
               f"with ({expected[:12]}); scores may drift: retrain with `python -m "
               "corpus_scan.training` or restore the lexicon")
    return True


def _warn_once(key: str, message: str) -> None:
    """A RuntimeWarning, once per process per key, pointing at the scorer's caller."""
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def warn_embedder_mismatch(tier: str, expected: str | None, actual: str,
                           probe: Sequence[float] | None = None,
                           embedder: Embedder | None = None) -> bool:
    """Warn once per process when a tier's embedder is not the one the head was trained on.
    A version that differs is checked by numbers when the head recorded a probe
    (`embed.embedder_probe`): a model rebuilt with other bytes but the same vectors is fine.
    A backend chosen on purpose (float32 numpy, torch on a GPU) is not warned about: its
    version names another backend. True on mismatch."""
    if not expected or expected == actual:
        return False
    if tier == "minilm" and not ("-minilm-int8-" in expected and "-minilm-int8-" in actual):
        return False
    if probe and embedder is not None:
        got = np.asarray(embedder_probe(embedder))
        want = np.asarray(probe, dtype=float)
        if got.shape == want.shape and float(np.abs(got - want).max()) <= PROBE_TOLERANCE:
            return False
    _warn_once(f"{tier}:{expected}:{actual}",
               f"the {tier} embedder here is {actual}, but the narrative head was trained on "
               f"{expected}, and its vectors differ; scores may drift: rebuild it "
               "(`corpus-scan build-models`) with the pinned packages, or retrain the head")
    return True


def _default_lexicon_hash() -> str | None:
    try:
        from corpus_scan.detect.lexicon import load_lexicon

        return load_lexicon(None).lexicon_hash
    except (ImportError, FileNotFoundError, ValueError):
        return None


class LexicalScorer:
    """Keyword-only scorer: `Candidate.lexical_score` as the score (no model needed)."""

    name = "lexical"
    version = "lexical-1"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def score(self, texts: list[str], candidates: list[Candidate]) -> list[Verdict]:
        out = []
        for text, c in zip(texts, candidates, strict=True):
            ev = c.evidence or text[:1000]
            start = c.evidence_start if c.evidence else 0
            out.append(
                Verdict(
                    score=float(c.lexical_score),
                    category=None,
                    stance=None,
                    stage="lexical",
                    passages=[Passage(start, start + len(ev), ev, float(c.lexical_score))],
                )
            )
        return out


class CascadeScorer:
    """Static tier everywhere, MiniLM only inside the uncertainty band (see module doc)."""

    def __init__(
        self, mode: str = "cascade", device: str = "auto", head: Head | None = None
    ) -> None:
        if mode not in ("cascade", "minilm", "static"):
            raise ValueError(f"unknown mode {mode!r} (cascade | minilm | static)")
        self.mode = mode
        self.device = device
        self.head = head or load_head()
        self.name = mode
        self.threshold = self.head.threshold(mode)
        self.band = self.head.band if mode == "cascade" else (2.0, 2.0)
        # int8 and float32 MiniLM give slightly different scores: part of the detector version
        self._minilm_backend = minilm_backend(device) if mode != "static" else "none"
        ident = "|".join(
            [
                self.head.version,
                str(self.head.manifest.get("npz_sha256", "")),
                f"band={self.head.band}",
                # a head folder may differ from another only in its thresholds (edited json)
                f"thresholds={sorted(self.head.manifest.get('thresholds', {}).items())}",
                f"minilm_passages={self.head.minilm_passages}",
                f"minilm_backend={self._minilm_backend}",
                *[f"{k}={v}" for k, v in sorted(self.head.manifest.get("embedders", {}).items())],
            ]
        )
        self.version = f"{self.head.version}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"
        self.stats: dict[str, float] = {
            "docs": 0,
            "static_docs": 0,
            "static_passages": 0,
            "minilm_docs": 0,
            "minilm_passages": 0,
            "static_s": 0.0,
            "minilm_s": 0.0,
        }
        self._lexicon_checked = False
        self._embedders_checked: set[str] = set()
        self._feature_names = self.head.feature_names
        self._k_minilm = max(1, self.head.minilm_passages)

    def prepare(self) -> None:
        """Build what the first scan on a machine lacks (the static model, the int8 MiniLM) now,
        in the scanning process, before workers start: they would otherwise all build it."""
        if self.mode in ("cascade", "static"):
            from corpus_scan.local_models.distill import ensure_static_model

            ensure_static_model()
        if self.mode in ("cascade", "minilm") and self._minilm_backend == "int8":
            from corpus_scan.local_models.quantize import ensure_minilm_int8

            ensure_minilm_int8()

    def check_lexicon(self, lexicon_hash: str | None) -> bool:
        """Compare the prefilter's lexicon with the head's (warns once); True on mismatch."""
        self._lexicon_checked = True
        return warn_lexicon_mismatch(self.head.manifest.get("lexicon_sha256"), lexicon_hash)

    def _embed(self, tier: str, texts: list[str]) -> np.ndarray:
        from corpus_scan.detect.embed import get_embedder

        embedder = get_embedder(tier, self.device)
        if tier not in self._embedders_checked:
            self._embedders_checked.add(tier)
            warn_embedder_mismatch(tier, self.head.manifest.get("embedders", {}).get(tier),
                                   f"{embedder.name}:{embedder.version}",
                                   self.head.manifest.get("embedder_probe", {}).get(tier),
                                   embedder)
        return embedder.encode(texts)

    def _tier(
        self,
        tier: str,
        passages: list[list[Passage]],
        docs: Sequence[int],
        verdicts: list[Verdict | None],
        candidates: list[Candidate],
    ) -> None:
        flat = [p for d in docs for p in passages[d]]
        if not flat:
            return
        t0 = time.perf_counter()
        texts = [p.text for p in flat]
        emb = self._embed(tier, texts)
        docf = np.vstack(
            [np.tile(candidate_features(candidates[d]), (len(passages[d]), 1)) for d in docs]
        )
        x = np.hstack([emb, feature_matrix(texts, self._feature_names), docf]).astype(np.float32)
        th = self.head.tiers[tier]
        i = 0
        for d in docs:
            n = len(passages[d])
            # per document, not per batch: a matrix product's last bits depend on its shape,
            # and a passage's score must not depend on which documents shared its batch
            pp = th.passage_probs(x[i : i + n])
            prob, cat, stance = th.document(x[i : i + n])
            old = verdicts[d]
            # Stored embeddings stay in one space per scorer (the first tier's), so topic
            # modelling can use every passage; a later tier only replaces scores.
            first_emb = {(p.start, p.end): p.embedding for p in old.passages} if old else {}
            ps = [
                Passage(
                    p.start,
                    p.end,
                    p.text,
                    float(pp[k]),
                    first_emb.get((p.start, p.end), emb[i + k]),
                )
                for k, p in enumerate(passages[d])
            ]
            if old is not None:  # keep the passages this tier did not re-score
                seen = {(p.start, p.end) for p in ps}
                ps += [p for p in old.passages if (p.start, p.end) not in seen]
            verdicts[d] = Verdict(prob, cat, stance, tier, ps)
            i += n
        self.stats[f"{tier}_passages"] += len(flat)
        self.stats[f"{tier}_docs"] += len(docs)
        self.stats[f"{tier}_s"] += time.perf_counter() - t0

    def _top(self, verdict: Verdict | None, passages: list[Passage]) -> list[Passage]:
        """The `minilm_passages` passages with the best static score, in text order."""
        if len(passages) <= self._k_minilm or verdict is None:
            return passages
        score = {(p.start, p.end): p.score or 0.0 for p in verdict.passages}
        best = sorted(passages, key=lambda p: -score.get((p.start, p.end), 0.0))
        keep = {id(p) for p in best[: self._k_minilm]}
        return [p for p in passages if id(p) in keep]

    def score(self, texts: list[str], candidates: list[Candidate]) -> list[Verdict]:
        if len(texts) != len(candidates):
            raise ValueError("texts and candidates must be parallel lists")
        if not self._lexicon_checked:
            self.check_lexicon(_default_lexicon_hash())
        passages = [make_passages(t, c) for t, c in zip(texts, candidates, strict=True)]
        verdicts: list[Verdict | None] = [None] * len(texts)
        docs = [i for i, p in enumerate(passages) if p]
        first = "minilm" if self.mode == "minilm" else "static"  # minilm mode: every passage
        self._tier(first, passages, docs, verdicts, candidates)
        if self.mode == "cascade":
            lo, hi = self.band
            unsure = [i for i in docs if lo <= verdicts[i].score <= hi]  # type: ignore[union-attr]
            todo = set(unsure)
            top = [self._top(verdicts[i], p) if i in todo else p for i, p in enumerate(passages)]
            self._tier("minilm", top, unsure, verdicts, candidates)
        self.stats["docs"] += len(texts)
        self.stats["minilm_share"] = self.stats["minilm_docs"] / max(1, self.stats["docs"])
        return [
            v if v is not None else Verdict(0.0, "other", "unclear", first, []) for v in verdicts
        ]


def load_scorer(name: str = "cascade", device: str = "auto",
                head_dir: str | Path | None = None) -> Scorer:
    """cascade (default) | minilm | static | lexical. Loads models once per process.
    `head_dir`: a head written by `corpus-scan train --out DIR` instead of the shipped one."""
    if name not in SCORER_NAMES:
        raise InputError(f"unknown detector {name!r}; choose one of {', '.join(SCORER_NAMES)}")
    check_device(device)
    if name == "lexical":
        if head_dir is not None:
            raise InputError("--head applies to the cascade, minilm and static detectors; "
                             "lexical has no trained head")
        return LexicalScorer()
    head = load_head_dir(head_dir, name) if head_dir is not None else None
    return CascadeScorer(name, device=device, head=head)


def fallback_candidate(text: str, index: int = 0, window: int = 400) -> Candidate:
    """A Candidate built without the prefilter (tests, evaluation when no lexicon exists)."""
    spans = find_spans(text)
    ai = [s for s in spans if s.kind == "ai"]
    res = [s for s in spans if s.kind == "resist"]
    pairs = [(a, r) for a in ai for r in res if abs(a.start - r.start) <= window]
    if pairs:
        a, r = pairs[0]
        lo = max(0, min(a.start, r.start) - 200)
        hi = min(len(text), max(a.end, r.end) + 200)
    else:
        lo, hi = 0, min(len(text), 600)
    return Candidate(index, spans, len(pairs), lexical_score(text), text[lo:hi], lo)


def score_texts(
    scorer: Scorer, texts: list[str], use_prefilter: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Scores for every text as a scan would give them: prefilter first (non-candidates
    score 0), else a fallback candidate per text. Returns (scores, is_candidate)."""
    scores, is_cand, _ = score_texts_with_stance(scorer, texts, use_prefilter)
    return scores, is_cand


def score_texts_with_stance(
    scorer: Scorer, texts: list[str], use_prefilter: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """`score_texts`, plus each text's stance as the scan stores it (None for a
    non-candidate or a scorer without one)."""
    verdicts = score_verdicts(scorer, texts, use_prefilter)
    out = np.array([v.score if v is not None else 0.0 for v in verdicts], dtype=float)
    is_cand = np.array([v is not None for v in verdicts], dtype=bool)
    return out, is_cand, [v.stance if v is not None else None for v in verdicts]


def score_verdicts(
    scorer: Scorer, texts: list[str], use_prefilter: bool = True
) -> list[Verdict | None]:
    """Each text's verdict as a scan stores it (score, category, stance); None for a text
    that is not a prefilter candidate."""
    cands: list[Candidate] | None = None
    if use_prefilter:
        try:
            from corpus_scan.detect.lexicon import load_lexicon
            from corpus_scan.detect.prefilter import Prefilter

            cands = Prefilter(load_lexicon(None), window=400).candidates(texts)
        except (ImportError, FileNotFoundError):
            cands = None
    if cands is None:
        cands = [fallback_candidate(t, i) for i, t in enumerate(texts)]
    out: list[Verdict | None] = [None] * len(texts)
    if cands:
        verdicts = scorer.score([texts[c.index] for c in cands], cands)
        for c, v in zip(cands, verdicts, strict=True):
            out[c.index] = v
    return out
