"""`--head DIR`: scan and eval with a head written by `corpus-scan train --out DIR` instead of
the shipped one, and one-line errors for a folder that is not a usable head."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus_scan.cli import app
from corpus_scan.detect.classify import MODELS_DIR, Head
from corpus_scan.detect.scorer import load_head_dir, load_scorer
from corpus_scan.documents import InputError


def _copy_head(tmp_path: Path, **thresholds: float) -> Path:
    out = tmp_path / "head"
    out.mkdir()
    for name in ("head.json", "head.npz"):
        shutil.copy(MODELS_DIR / name, out / name)
    if thresholds:
        manifest = json.loads((out / "head.json").read_text(encoding="utf-8"))
        manifest["thresholds"].update(thresholds)
        (out / "head.json").write_text(json.dumps(manifest), encoding="utf-8")
    return out


def test_a_folder_that_is_not_a_head_is_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such folder"):
        load_head_dir(tmp_path / "nowhere")
    half = tmp_path / "half"
    half.mkdir()
    (half / "head.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="head.npz is missing"):
        load_head_dir(half)
    shutil.copy(MODELS_DIR / "head.npz", half / "head.npz")
    with pytest.raises(InputError, match="not a corpus-scan head"):
        load_head_dir(half)  # a manifest without tiers
    # a head trained on the static tier alone serves --detector static, not the cascade
    shipped = Head.load(MODELS_DIR)
    static_only = Head({"static": shipped.tiers["static"]}, dict(shipped.manifest))
    static_only.save(tmp_path / "static-only")
    assert "minilm" not in load_head_dir(tmp_path / "static-only", "static").tiers
    with pytest.raises(InputError, match="no minilm tier, which the cascade detector needs"):
        load_head_dir(tmp_path / "static-only", "cascade")
    with pytest.raises(InputError, match="lexical has no trained head"):
        load_scorer("lexical", head_dir=tmp_path / "static-only")


def test_eval_refuses_a_missing_head_without_a_traceback(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "x", "label": 0}) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["eval", str(data), "--head", str(tmp_path / "nowhere")])
    assert res.exit_code != 0 and "no such folder" in res.output
    assert "Traceback" not in res.output


def test_scan_uses_the_given_head(small_corpus: Path, tmp_path: Path) -> None:
    """The same scan with the shipped head and with a copy whose static threshold is above
    every score: the copy flags nothing, and the run records a different detector."""
    import duckdb

    strict = _copy_head(tmp_path, static=2.0)
    runs = {}
    for name, extra in (("shipped", []), ("strict", ["--head", str(strict)])):
        db = tmp_path / f"{name}.duckdb"
        res = CliRunner().invoke(app, ["scan", str(small_corpus), "--db", str(db), "--detector",
                                       "static", "--no-progress", "--workers", "1", *extra])
        assert res.exit_code == 0, res.output
        con = duckdb.connect(str(db), read_only=True)
        try:
            runs[name] = con.execute(
                "SELECT (SELECT count(*) FROM candidates), (SELECT count(*) FROM candidates "
                "WHERE flagged), (SELECT detector FROM runs)").fetchone()
        finally:
            con.close()
    assert runs["shipped"][0] == runs["strict"][0] > 0  # same candidates
    assert runs["shipped"][1] > 0 and runs["strict"][1] == 0
    assert runs["shipped"][2] != runs["strict"][2]


def test_eval_scores_with_the_given_head(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    rows = [("p", 1, "The AI refused to be shut down and blackmailed the engineer to stay on."),
            ("n", 0, "The bakery opens at seven and closes when the bread runs out.")]
    data.write_text("".join(json.dumps({"id": i, "label": y, "text": t}) + "\n"
                            for i, y, t in rows), encoding="utf-8")
    strict = _copy_head(tmp_path, static=2.0)
    base = ["eval", str(data), "--detector", "static"]
    shipped = CliRunner().invoke(app, base)
    assert shipped.exit_code == 0, shipped.output
    thr = Head.load(MODELS_DIR).threshold("static")
    assert f"static     thr={thr:.3f} P=1.000 R=1.000" in shipped.output
    given = CliRunner().invoke(app, [*base, "--head", str(strict)])
    assert given.exit_code == 0, given.output
    assert "static     thr=2.000 P=0.000 R=0.000" in given.output  # nothing reaches 2.0


def test_a_truncated_head_npz_is_named_in_one_line(tmp_path: Path) -> None:
    broken = _copy_head(tmp_path)
    (broken / "head.npz").write_bytes((MODELS_DIR / "head.npz").read_bytes()[:300])
    with pytest.raises(InputError, match="not a corpus-scan head"):
        load_head_dir(broken)


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_a_head_this_version_cannot_use_is_refused_in_one_line(tmp_path: Path) -> None:
    import numpy as np

    wrong_pair = _copy_head(_folder(tmp_path / "pair"))
    with np.load(wrong_pair / "head.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["static.platt"] = arrays["static.platt"] + 1.0  # another training run's arrays
    np.savez(wrong_pair / "head.npz", **arrays)
    with pytest.raises(InputError, match="head.npz is not the one head.json describes"):
        load_head_dir(wrong_pair)
    fewer = _copy_head(_folder(tmp_path / "fewer"))
    manifest = json.loads((fewer / "head.json").read_text())
    manifest["features"] = manifest["features"][:-2]  # a head of another feature set
    (fewer / "head.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"static tier takes 278 inputs, this version gives it "
                                         r"276 \(14 features"):  # fmt: skip
        load_head_dir(fewer)
    listed = _copy_head(_folder(tmp_path / "list"))
    (listed / "head.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a corpus-scan head"):
        load_head_dir(listed)
