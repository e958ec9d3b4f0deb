"""notebooks/explore_hits.ipynb runs top to bottom against a scan database."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from corpus_scan.analyze import report, topics

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore_hits.ipynb"
SHARED_CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"


def run_notebook(db: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    monkeypatch.setenv("CORPUS_SCAN_DB", str(db))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            out.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(out)


def test_notebook_runs_on_a_small_database(
    topics_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_notebook(topics_db, tmp_path, monkeypatch)
    text = _text(nb)
    assert f"{topics_db}: run 1" in text
    assert "flagged after topic triage" in text
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.slow
def test_notebook_and_report_on_a_real_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SHARED_CORPORA.is_dir():
        pytest.skip(f"needs the shared corpora at {SHARED_CORPORA} (absent on this machine)")
    from corpus_scan.detect.cascade import DetectorConfig
    from corpus_scan.run.scan import scan

    db = tmp_path / "real.duckdb"
    inputs = [str(SHARED_CORPORA / "web-jsonl"), str(SHARED_CORPORA / "narratives")]
    scan(inputs, db, detector=DetectorConfig(scorer="lexical"), workers=os.cpu_count() or 1)
    topics(db)
    result = report(db, tmp_path / "report")
    assert result.n_docs > 20_000 and result.index_html.is_file()
    nb = run_notebook(db, tmp_path, monkeypatch)
    assert f"{db}: run 1" in _text(nb)
