"""The detector's commands: `eval`, `train` and `build-models` (registered on the app in
cli.py), each a thin layer over the library function of the same name."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from corpus_scan.cli_common import HeadOption, err, terminate_as_interrupt
from corpus_scan.cli_common import fail as _fail
from corpus_scan.documents import InputError


def eval_(
    path: Annotated[Path, typer.Argument(help="labeled JSONL file")],
    text_field: Annotated[str, typer.Option(help="text field")] = "text",
    label_field: Annotated[str, typer.Option(help="label field (1/0 or true/false)")] = "label",
    detector: Annotated[str, typer.Option(help="cascade | minilm | static | lexical")] = "cascade",
    head: HeadOption = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    errors: Annotated[
        int | None,
        typer.Option(help="also list the scorer's wrong calls, at most N (0: all)", min=0),
    ] = None,
) -> None:
    """Score a labeled JSONL file: precision, recall, F1, PR-AUC, per-subtype recall, and the
    keyword baseline beside them."""
    from corpus_scan.detect.cascade import require_device
    from corpus_scan.detect.scorer import load_scorer
    from corpus_scan.training.eval_file import evaluate

    if not path.is_file():
        _fail(f"{path}: {'is a folder, not a file' if path.is_dir() else 'no such file'}")
    try:
        if detector != "lexical":
            require_device(device)
        scorer = load_scorer(detector, device=device, head_dir=head)
    except (InputError, ValueError) as exc:
        _fail(str(exc))
    try:
        with terminate_as_interrupt() as caught:
            try:
                report = evaluate(path, text_field=text_field, label_field=label_field,
                                  scorer=scorer)  # fmt: skip
            except KeyboardInterrupt:
                _stopped("eval", caught, "nothing was written")
    except (InputError, ValueError, KeyError) as exc:
        _fail(f"{path}: {exc}")
    print(
        f"{report.path}: {report.scorer.n} documents, {report.scorer.n_pos} positive, "
        f"{report.n_candidates} prefilter candidates"
    )
    print(report.table())
    if errors is not None:
        print()
        print(report.error_table(limit=errors or None))
    if _is_training_data(report.data_sha256, getattr(scorer, "head", None)):
        err.print(
            "[yellow]note:[/yellow] this file is the labeled set the head was trained "
            "on, so these figures are in-sample; cross-validated figures: "
            "python benchmarks/detector_quality.py --cv",
            highlight=False,
            soft_wrap=True,
        )
    elif report.n_seen:
        share = (f"all {report.scorer.n:,} texts" if report.n_seen == report.scorer.n
                 else f"{report.n_seen:,} of the {report.scorer.n:,} texts")
        part = "" if report.n_seen == report.scorer.n else "partly "
        err.print(
            f"[yellow]note:[/yellow] {share} are in the head's training data (dev.jsonl or "
            f"training_data/), so these figures are {part}in-sample",
            highlight=False,
            soft_wrap=True,
        )


def _is_training_data(digest: str | None, head: object | None = None) -> bool:
    """True when the evaluated examples are exactly the dev set recorded in the head used
    (default: the shipped one)."""
    from corpus_scan.detect.classify import load_head

    manifest = getattr(head, "manifest", None) or load_head().manifest
    return digest is not None and digest == manifest.get("training_data_sha256", {}).get("dev")


def train(
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="where head.npz/head.json go (default: the package's models folder)"
        ),
    ] = None,
    dev: Annotated[
        Path | None, typer.Option(help="labeled dev JSONL (default ../shared/labeled/dev.jsonl)")
    ] = None,
    shared: Annotated[Path | None, typer.Option(
        help="folder holding labeled/ and corpora/ (default ../shared next to the repo, or "
             "$CORPUS_SCAN_SHARED)")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    cv_seeds: Annotated[int, typer.Option(
        help="first cross-validate on dev over N fold splits and record the figures in "
             "head.json (8: ~3 min); 0 keeps the recorded figures if the head is reproduced")
    ] = 0,
) -> None:
    """Reproduce the shipped classifier head from the training inputs."""
    from corpus_scan.training.recipe import train as run_train

    try:
        with terminate_as_interrupt() as caught:
            try:
                written = run_train(out_dir, dev_path=dev, device=device, cv_seeds=cv_seeds,
                                    shared=shared)  # fmt: skip
            except KeyboardInterrupt:
                _stopped("train", caught, "no head was written (both files go in at the end)")
    except (InputError, FileNotFoundError) as exc:
        _fail(str(exc))
    print(f"head written to {written}")


def build_models(
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="default: $CORPUS_SCAN_CACHE or ~/.cache/corpus-scan"),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="rebuild existing models")] = False,
) -> None:
    """Build the static model and the int8 MiniLM from the packaged MiniLM (else on first use)."""
    from corpus_scan.local_models.build_models import build_models as run_build

    for name, folder in run_build(cache, rebuild=rebuild).items():
        print(f"{name}: {folder}")


def _stopped(command: str, caught: list[int], what: str) -> NoReturn:
    sig = caught[0] if caught else int(signal.SIGINT)
    _fail(f"{command} interrupted ({signal.Signals(sig).name}); {what}", code=128 + sig)
