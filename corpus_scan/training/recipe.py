"""`corpus-scan train`: the shipped head, rebuilt from the training inputs.

Sits above `fit` (the fitting) and `evaluate` (the CV whose figures head.json records), so
neither of those needs the other's top half.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from corpus_scan.detect.classify import MODELS_DIR
from corpus_scan.documents import InputError
from corpus_scan.training.data import load_dev, load_extra, use_shared
from corpus_scan.training.evaluate import repeated_cv
from corpus_scan.training.fit import head_differences, train_head

MIN_DEV_PER_CLASS = 5


def _check_out(out: Path) -> None:
    """`--out` must be a folder that can be made: refused now, not after minutes of fitting."""
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"--out {out}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise InputError(f"--out {out}: {parent} is not writable")
            return


def train(out_dir: str | Path | None = None, *, dev_path: str | Path | None = None,
          sources: Sequence[str] = ("own", "palisade", "agentic", "posts", "web"),
          device: str = "auto", cv_seeds: int = 0, shared: str | Path | None = None) -> Path:
    """Reproduce the shipped head from the inputs and write head.npz + head.json to `out_dir`.

    `cv_seeds` > 0 first runs the grouped CV on dev over that many fold splits
    (`evaluate.repeated_cv`) and records its mean and spread as head.json `cv`. Without it,
    the `cv` block of the head already in `out_dir` is kept when the new head reproduces that
    head (its figures still describe it), and dropped otherwise. `shared`: the folder holding
    `labeled/` and `corpora/` (default `../shared` next to the repo, or $CORPUS_SCAN_SHARED).
    Every source must be there: InputError names the missing ones.
    """
    from corpus_scan.detect.cascade import require_device

    require_device(device)
    if cv_seeds < 0:
        raise InputError(f"--cv-seeds must be 0 or more, not {cv_seeds}")
    out = Path(out_dir or MODELS_DIR)
    _check_out(out)  # before the fit, not after it
    with use_shared(shared):
        dev = load_dev(dev_path)
        extra = load_extra(sources, web_halves=(0, 1))
    positives = sum(1 for e in dev if e.label == 1)
    if positives < MIN_DEV_PER_CLASS or len(dev) - positives < MIN_DEV_PER_CLASS:
        raise InputError(
            f"{dev_path or 'dev'}: {positives} positive and {len(dev) - positives} negative "
            f"examples; training needs at least {MIN_DEV_PER_CLASS} of each (grouped "
            f"{MIN_DEV_PER_CLASS}-fold CV picks the thresholds)"
        )
    cv_metrics: dict | None = None
    if cv_seeds > 0:
        aux: list = []
        cv_metrics = repeated_cv(range(cv_seeds), dev, extra, device, aux=aux).summary()
        cv_metrics["aux"] = {"category": list(aux[0].category), "stance": list(aux[0].stance),
                             "accepts_right_true_predicted": list(aux[0].accepts)}
    head, _ = train_head(dev + extra, device=device)
    if cv_metrics is None and (out / "head.json").exists():
        with tempfile.TemporaryDirectory() as tmp:
            try:  # a damaged or half head there describes nothing: its figures are dropped
                old = json.loads((out / "head.json").read_text(encoding="utf-8")).get("cv")
                if old and not head_differences(out, head.save(tmp)):
                    cv_metrics = old
            except (OSError, ValueError, AttributeError, KeyError, TypeError, EOFError,
                    zipfile.BadZipFile):
                pass
    if cv_metrics is not None:
        head.manifest["cv"] = cv_metrics
    return head.save(out)
