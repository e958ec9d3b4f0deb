"""corpus-scan: measure and filter the 'AI resists shutdown' narrative in training corpora.

The library mirrors the CLI; every command is one function here (imported lazily, so
`import corpus_scan` stays cheap):

    from corpus_scan import scan, sql
    report = scan(["corpus/"], "hits.duckdb")
    sql("SELECT shard, count(*) FROM hits GROUP BY 1", "hits.duckdb").rows
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = {
    "scan": "corpus_scan.run.scan",
    "sql": "corpus_scan.store.query",
    "evaluate": "corpus_scan.training.eval_file",
    "train": "corpus_scan.training.recipe",
    "cross_validate": "corpus_scan.training.evaluate",
    "filter_shards": "corpus_scan.shards",
    "topics": "corpus_scan.analyze",
    "report": "corpus_scan.analyze",
    "build_models": "corpus_scan.local_models.build_models",
    "DetectorConfig": "corpus_scan.detect.cascade",
    "ReadOptions": "corpus_scan.documents",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'corpus_scan' has no attribute {name!r}")
    return getattr(import_module(module), name)
