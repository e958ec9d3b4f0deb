"""The library mirrors the CLI: every name `corpus_scan` exports resolves, and the functions
behind CLI commands are the ones the commands call (a module move once left `evaluate` and
`train` pointing at modules that no longer had them)."""

from __future__ import annotations

import inspect

import corpus_scan


def test_every_exported_name_resolves() -> None:
    for name in corpus_scan.__all__:
        obj = getattr(corpus_scan, name)
        assert obj is not None, name
        if name != "__version__":
            assert getattr(obj, "__name__", name) == name, name


def test_the_library_functions_are_the_ones_the_cli_uses() -> None:
    from corpus_scan.local_models.build_models import build_models
    from corpus_scan.training.eval_file import evaluate
    from corpus_scan.training.recipe import train

    assert corpus_scan.evaluate is evaluate and corpus_scan.train is train
    assert corpus_scan.build_models is build_models
    params = inspect.signature(corpus_scan.evaluate).parameters
    assert {"path", "text_field", "label_field"} <= set(params)
