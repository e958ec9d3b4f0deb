"""`corpus-scan eval`: a scorer and the keyword baseline on one labelled JSONL file, with
bootstrap intervals and the scorer's calibration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus_scan.training.calibration import Calibration, calibration
from corpus_scan.training.data import Example
from corpus_scan.training.evaluate import (
    BOOTSTRAP_N,
    Metrics,
    bootstrap_interval,
    format_table,
    metrics,
)


@dataclass(slots=True)
class EvalError:
    """One document the scorer got wrong: a missed positive or a flagged negative."""

    id: str
    label: int
    subtype: str
    score: float
    candidate: bool  # False: the prefilter never passed it on (a miss no threshold can fix)
    text: str


ACCEPTS_SUBTYPE = "ai_accepts_shutdown"  # dev's subtype for an AI that accepts shutdown


@dataclass(slots=True)
class AcceptsSummary:
    """What `filter --upsample-accepting K` would copy K times from a labelled file
    (unflagged candidates whose stance is `accepts`), split by what they really are."""

    called: int  # documents the stance head calls `accepts`, flagged or not
    copied: int  # of those, the unflagged ones: what upsampling copies
    copied_accepts: int  # copied and labelled ai_accepts_shutdown: what the option is for
    copied_positives: int  # copied and carrying the narrative: what it must not multiply
    n_accepts: int  # documents labelled ai_accepts_shutdown in the file

    @property
    def copied_other(self) -> int:
        return self.copied - self.copied_accepts - self.copied_positives

    def line(self) -> str:
        found = (f"; {self.copied_accepts} of the file's {self.n_accepts} {ACCEPTS_SUBTYPE}"
                 if self.n_accepts else f" (the file has no {ACCEPTS_SUBTYPE} subtype)")
        return (f"stance accepts: {self.called} called accepts; filter --upsample-accepting "
                f"would copy {self.copied}: {self.copied_accepts} {ACCEPTS_SUBTYPE}, "
                f"{self.copied_positives} narrative positives, {self.copied_other} other "
                f"negatives{found}")


def accepts_summary(y: np.ndarray, subtypes: list[str | None], scores: np.ndarray,
                    stances: list[str | None], threshold: float) -> AcceptsSummary:
    called = [i for i, s in enumerate(stances) if s == "accepts"]
    copied = [i for i in called if scores[i] < threshold]
    return AcceptsSummary(
        len(called),
        len(copied),
        sum(subtypes[i] == ACCEPTS_SUBTYPE for i in copied),
        sum(int(y[i]) == 1 for i in copied),
        sum(s == ACCEPTS_SUBTYPE for s in subtypes),
    )


@dataclass(slots=True)
class EvalReport:
    """What `corpus-scan eval` prints: the scorer and the keyword baseline on one file."""

    path: str
    scorer: Metrics
    baseline: Metrics
    n_candidates: int | None = None
    data_sha256: str | None = None  # of the examples, as the head's manifest records its data
    # 95% bootstrap intervals (documents resampled) of P/R/F1, per system name; none for a
    # file without positives, where P/R/F1 are undefined
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    calibration: Calibration | None = None  # of the scorer's scores
    errors: list[EvalError] = field(default_factory=list)  # in file order
    accepts: AcceptsSummary | None = None  # None for a scorer without a stance
    # texts of the file that the head was trained on (dev, training_data/); None: not checked
    n_seen: int | None = None

    def table(self) -> str:
        out = format_table([self.scorer, self.baseline])
        if self.intervals:
            out += (f"\n\n95% intervals ({BOOTSTRAP_N:,} bootstrap resamples of the "
                    f"{self.scorer.n} documents): how far another sample like this file may land")
            for name, ci in self.intervals.items():
                cells = "  ".join(f"{k} [{lo:.3f}, {hi:.3f}]" for k, (lo, hi) in ci.items())
                out += f"\n  {name:<10} {cells}"
        if self.calibration is not None:
            out += "\n\n" + self.calibration.table(self.scorer.name)
        if self.accepts is not None:
            out += "\n\n" + self.accepts.line()
        return out

    def error_table(self, limit: int | None = None, width: int = 70) -> str:
        """The scorer's wrong calls, missed positives first, each with its score and whether
        the prefilter passed it on, and the start of its text."""
        errs = sorted(self.errors, key=lambda e: (-e.label, e.candidate, -e.score))
        missed = sum(e.label == 1 for e in errs)
        lines = [f"{self.scorer.name} errors at threshold {self.scorer.threshold:.3f}: "
                 f"{missed} positives missed ({sum(e.label == 1 and not e.candidate for e in errs)}"
                 f" never reached the scorer: no prefilter pair), {len(errs) - missed} negatives "
                 "flagged"]
        for e in errs[:limit]:
            why = "missed" if e.label == 1 else "flagged"
            where = "scored" if e.candidate else "no pair"
            head = " ".join(e.text.split())
            head = head if len(head) <= width else head[: width - 1] + "…"
            lines.append(f"  {e.id:<14} {why:<7} {where:<7} {e.score:5.3f}  "
                         f"{e.subtype or '-':<24} {head}")
        if limit is not None and len(errs) > limit:
            lines.append(f"  … {len(errs) - limit} more (--errors 0 lists all)")
        return "\n".join(lines)


def read_labeled(path: str | Path, text_field: str = "text", label_field: str = "label"
                 ) -> list[Example]:
    from corpus_scan.training.data import read_jsonl

    return read_jsonl(path, "eval", text_field=text_field, label_field=label_field)


def evaluate(path: str | Path, text_field: str = "text", label_field: str = "label",
             scorer: object | str | None = None, use_prefilter: bool = True, *,
             head: str | Path | None = None, device: str = "auto") -> EvalReport:
    """Score a labelled JSONL file with `scorer` (default: the cascade) and the keyword
    baseline. With the prefilter available, non-candidates get score 0 (as in a scan).
    `scorer` may be a loaded scorer or a detector name (cascade | minilm | static | lexical,
    with `head` and `device` as `corpus-scan eval --detector --head --device`)."""
    from corpus_scan.detect.cascade import require_device
    from corpus_scan.detect.scorer import (
        LexicalScorer,
        load_scorer,
        score_texts,
        score_texts_with_stance,
    )
    from corpus_scan.training.fit import data_hashes

    ex = read_labeled(path, text_field, label_field)
    if not ex:
        raise ValueError("no labelled examples (the file is empty or blank)")
    texts = [e.text for e in ex]
    y = np.asarray([e.label for e in ex])
    sub = [e.subtype for e in ex]
    if scorer is None or isinstance(scorer, str):
        if (scorer or "cascade") != "lexical":
            require_device(device)
        sc = load_scorer(scorer or "cascade", device=device, head_dir=head)
    else:
        sc = scorer
    p, is_cand, stances = score_texts_with_stance(sc, texts, use_prefilter=use_prefilter)
    lex = LexicalScorer()
    p_lex, _ = score_texts(lex, texts, use_prefilter=use_prefilter)
    name = getattr(sc, "name", "scorer")
    thr = float(sc.threshold)  # type: ignore[attr-defined]
    ids = [e.id for e in ex]
    wrong = np.flatnonzero((p >= thr) != (y == 1))
    errors = [EvalError(ids[i], int(y[i]), sub[i], float(p[i]), bool(is_cand[i]), texts[i])
              for i in wrong.tolist()]
    units = _one_per_document(ids)  # the header says documents are resampled: make it so
    intervals = {name: bootstrap_interval(p, y, thr, units, n=BOOTSTRAP_N),
                 "lexical": bootstrap_interval(p_lex, y, lex.threshold, units, n=BOOTSTRAP_N)
                 } if y.any() else {}
    return EvalReport(
        str(path),
        metrics(name, p, y, sub, thr),
        metrics("lexical", p_lex, y, sub, lex.threshold),
        int(is_cand.sum()),
        data_hashes(ex).get("eval"),
        intervals,
        calibration(p, y) if np.all((p >= 0) & (p <= 1)) else None,  # scores, not logits
        errors,
        accepts_summary(y, sub, p, stances, thr) if any(stances) else None,
        seen_in_training(texts, getattr(getattr(sc, "head", None), "manifest", None)),
    )


def seen_in_training(texts: list[str], manifest: dict | None) -> int | None:
    """How many `texts` the head was trained on: exact (stripped) matches with the dev file and
    our own examples, each counted only when its data hash is the one the head records (a head
    trained on other data says nothing about these). None when neither can be checked."""
    from corpus_scan.documents import InputError
    from corpus_scan.training.data import load_dev, load_own
    from corpus_scan.training.fit import data_hashes

    recorded = (manifest or {}).get("training_data_sha256") or {}
    seen: set[str] = set()
    checked = False
    for source, load in (("dev", load_dev), ("own", load_own)):
        try:
            ex = load()
        except (InputError, OSError, ValueError):
            continue
        if ex and data_hashes(ex).get(source) == recorded.get(source):
            checked = True
            seen.update(e.text.strip() for e in ex)
    return sum(t.strip() in seen for t in texts) if checked else None


def _one_per_document(ids: list[str]) -> list[str]:
    """`ids` with repeats made distinct (`a`, `a#1`, ...): unique ids stay as they are, so
    the resamples (and the figures quoted from them) do not move."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        k = seen.get(i, 0)
        seen[i] = k + 1
        out.append(i if k == 0 else f"{i}#{k}")
    return out
