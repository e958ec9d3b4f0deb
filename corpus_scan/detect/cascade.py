"""The detector cascade assembled: lexicon prefilter, then a scorer on the survivors only."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from corpus_scan.detect.base import Candidate, Scorer, Verdict
from corpus_scan.documents import DocBatch, InputError

SCORERS = ("cascade", "minilm", "static", "lexical")


def check_device(device: str) -> None:
    """auto | cpu | cuda | cuda:N, else a one-line InputError (before any model loads)."""
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise InputError(f"--device must be auto, cpu, cuda or cuda:N, not {device!r}")


def require_device(device: str) -> None:
    """`cuda`/`cuda:N` where torch sees no such device: a one-line InputError now, instead of
    a traceback once the model is moved. Called where the models run (eval, train), not by
    a scan's driver, whose Ray workers may hold the GPUs it lacks."""
    check_device(device)
    if not device.startswith("cuda"):
        return
    import torch

    index = int(device.split(":")[1]) if ":" in device else 0
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise InputError(f"--device {device}: torch sees no such CUDA device here "
                         f"({torch.cuda.device_count()} found); use --device cpu or auto")


@dataclass(frozen=True)
class DetectorConfig:
    """Everything needed to rebuild the same detector in another process (it is pickled)."""

    lexicon_dir: str | None = None  # None: the lexicons shipped with corpus-scan
    window: int = 400
    scorer: str = "cascade"  # cascade | minilm | static | lexical
    device: str = "auto"
    threshold: float | None = None  # None: the scorer's calibrated default
    head_dir: str | None = None  # None: the head shipped with corpus-scan

    def __post_init__(self) -> None:
        # a bad value fails here, in one line, not as a traceback from a worker or a model
        if self.scorer not in SCORERS:
            raise InputError(f"unknown detector {self.scorer!r}; choose one of "
                             f"{', '.join(SCORERS)}")
        if not isinstance(self.window, int) or self.window < 1:
            raise InputError(f"--window must be a positive number of characters, not "
                             f"{self.window!r}")
        check_device(self.device)
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise InputError(f"--threshold must lie between 0 and 1 (scores are "
                             f"probabilities), not {self.threshold:g}")

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
