"""Contracts of the detector cascade: prefilter -> passages -> scorer.

Each stage only sees survivors of the previous one. A scorer is swappable (lexical, static
embedding, transformer, trained head) as long as it honours `Scorer`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(slots=True)
class Span:
    """One lexicon match, in character offsets of the document text."""

    kind: str  # "ai" | "resist" (further kinds may be added by lexicons, e.g. "accept")
    term: str  # the lexicon entry's canonical name (not the matched surface form)
    start: int
    end: int


@dataclass(slots=True)
class Candidate:
    """A document that passed the lexicon prefilter."""

    index: int  # position in the DocBatch it came from
    spans: list[Span]  # matches in document order (capped per document)
    n_pairs: int  # AI x resistance co-occurrences within the window
    lexical_score: float  # 0..1, a cheap score from the lexicon alone
    evidence: str  # text window around the best co-occurrence
    evidence_start: int = 0  # char offset of `evidence` in the document


@dataclass(slots=True)
class Passage:
    """A sentence-aligned window of a candidate, the unit the semantic stages score."""

    start: int
    end: int
    text: str
    score: float | None = None
    embedding: np.ndarray | None = None  # float32, kept so topics never re-embed


@dataclass(slots=True)
class Verdict:
    """The cascade's decision on one candidate document."""

    score: float  # calibrated probability that the document carries the narrative
    category: str | None = None  # fiction | news | discussion | roleplay | other
    stance: str | None = None  # resists | accepts | unclear
    stage: str = "lexical"  # the cheapest stage that decided
    passages: list[Passage] = field(default_factory=list)


class Scorer(Protocol):
    """Scores prefilter candidates. Loaded once per worker process."""

    name: str
    version: str  # goes into runs.detector so runs are comparable or visibly not
    threshold: float  # default decision threshold on `Verdict.score`

    def score(self, texts: list[str], candidates: list[Candidate]) -> list[Verdict]:
        """One verdict per candidate; `texts[i]` is the full text of `candidates[i]`."""
        ...
