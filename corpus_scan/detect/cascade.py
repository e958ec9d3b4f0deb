"""The detector cascade assembled: lexicon prefilter, then a scorer on the survivors only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from corpus_scan.detect.base import Candidate, Scorer, Verdict
from corpus_scan.documents import DocBatch


@dataclass(frozen=True)
class DetectorConfig:
    """Everything needed to rebuild the same detector in another process (it is pickled)."""

    lexicon_dir: str | None = None  # None: the lexicons shipped with corpus-scan
    window: int = 400
    scorer: str = "cascade"  # cascade | minilm | static | lexical
    device: str = "auto"
    threshold: float | None = None  # None: the scorer's calibrated default
    head_dir: str | None = None  # None: the head shipped with corpus-scan

    def to_dict(self) -> dict:
        return asdict(self)


class Cascade:
    """Prefilter every document, score the candidates. Built once per worker process."""

    def __init__(self, config: DetectorConfig):
        from corpus_scan.detect.lexicon import load_lexicon
        from corpus_scan.detect.prefilter import Prefilter
        from corpus_scan.detect.scorer import load_scorer

        self.config = config
        lexicon = load_lexicon(Path(config.lexicon_dir) if config.lexicon_dir else None)
        self.prefilter = Prefilter(lexicon, window=config.window)
        self.scorer: Scorer = load_scorer(config.scorer, device=config.device,
                                          head_dir=config.head_dir)
        prepare = getattr(self.scorer, "prepare", None)
        if prepare is not None:
            prepare()
        self.threshold = (
            config.threshold if config.threshold is not None else float(self.scorer.threshold)
        )
        self.lexicon_hash: str = lexicon.lexicon_hash
        self.version = f"{self.scorer.name}:{self.scorer.version}"

    def run(self, batch: DocBatch) -> list[tuple[Candidate, Verdict]]:
        candidates = self.prefilter.candidates(batch.texts)
        if not candidates:
            return []
        texts = [batch.texts[c.index] for c in candidates]
        verdicts = self.scorer.score(texts, candidates)
        return list(zip(candidates, verdicts, strict=True))


_CACHE: dict[DetectorConfig, Cascade] = {}


def get_cascade(config: DetectorConfig) -> Cascade:
    """Models load once per process, not once per shard."""
    cascade = _CACHE.get(config)
    if cascade is None:
        cascade = _CACHE[config] = Cascade(config)
    return cascade
