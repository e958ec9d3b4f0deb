"""Fixtures for the analyze tests: synthetic scan databases, one topic fit shared per module."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from analyze_synth import build_db  # noqa: E402


@pytest.fixture(scope="session")
def synth_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic scan (3 shards x 2000 docs, 60 candidates each, a failed shard), no topics."""
    return build_db(tmp_path_factory.mktemp("synth") / "scan.duckdb")


@pytest.fixture(scope="session")
def topics_template(tmp_path_factory: pytest.TempPathFactory, synth_template: Path) -> Path:
    """The synthetic scan with topics fitted once (PCA reduction: no numba compile)."""
    from corpus_scan.analyze import topics

    path = tmp_path_factory.mktemp("topics") / "scan.duckdb"
    shutil.copy(synth_template, path)
    topics(path, reducer="pca")
    return path


@pytest.fixture
def synth_db(tmp_path: Path, synth_template: Path) -> Path:
    path = tmp_path / "scan.duckdb"
    shutil.copy(synth_template, path)
    return path


@pytest.fixture
def topics_db(tmp_path: Path, topics_template: Path) -> Path:
    path = tmp_path / "scan.duckdb"
    shutil.copy(topics_template, path)
    return path
