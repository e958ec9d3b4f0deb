"""Fixtures: the scanned corpus of `shards_helpers`, private copies, HF caches in tmp dirs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shards_helpers import Corpus, build_corpus, scan_corpus


@pytest.fixture(scope="session")
def scanned_master(tmp_path_factory: pytest.TempPathFactory) -> tuple[Corpus, Path]:
    base = tmp_path_factory.mktemp("shards")
    corpus = build_corpus(base / "corpus")
    return corpus, scan_corpus(corpus, base / "scan.duckdb")


@pytest.fixture
def scanned(scanned_master: tuple[Corpus, Path], tmp_path: Path) -> tuple[Corpus, Path]:
    """The session's corpus with a private copy of its database (tests may change it)."""
    corpus, db = scanned_master
    copy = tmp_path / "scan.duckdb"
    shutil.copy(db, copy)
    return corpus, copy


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Corpus, Path]:
    """A private corpus and database (for tests that change or break input files)."""
    corpus = build_corpus(tmp_path / "corpus")
    return corpus, scan_corpus(corpus, tmp_path / "scan.duckdb")


@pytest.fixture(autouse=True)
def _hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
