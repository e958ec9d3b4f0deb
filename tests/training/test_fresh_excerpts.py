"""The fresh-excerpt label file (benchmarks/fresh_excerpts/labels.jsonl) is what the README's
fresh-excerpt figures are counted over: it must keep the counts the README quotes, use dev's
label vocabulary, and hold no duplicate item or page."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import corpus_scan

LABELS = Path(corpus_scan.__file__).resolve().parents[1] / "benchmarks/fresh_excerpts/labels.jsonl"
POSITIVE = {"fiction", "news", "discussion", "roleplay"}
NEGATIVE = {"ai_accepts_shutdown", "ai_news_no_resistance", "ai_safety_no_narrative",
            "benign_ai_fiction", "computer_shutdown", "gov_or_plant_shutdown", "human_blackmail",
            "killswitch_other", "ransomware", "robots_industrial", "random"}


def _norm(url: str) -> str:
    u = url.split("://", 1)[-1]
    return (u[4:] if u.startswith("www.") else u).rstrip("/")


def test_fresh_excerpt_labels_match_the_quoted_counts_and_vocabulary() -> None:
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    counts = Counter((r["set"], r["label"]) for r in rows)
    assert counts == {("ext1", 1): 85, ("ext1", 0): 101, ("ext2", 1): 70, ("ext2", 0): 99,
                      ("ext3", 1): 56, ("ext3", 0): 90, ("ext4", 1): 60, ("ext4", 0): 114,
                      ("ext5", 1): 55, ("ext5", 0): 101, ("ext6", 1): 49, ("ext6", 0): 98,
                      ("ext7", 1): 56, ("ext7", 0): 91, ("ext8", 1): 56, ("ext8", 0): 92,
                      ("ext9", 1): 52, ("ext9", 0): 88, ("ext10", 1): 51, ("ext10", 0): 88,
                      ("ext11", 1): 52, ("ext11", 0): 87}
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({_norm(r["source_url"]) for r in rows}) == len(rows)
    for r in rows:
        assert r["subtype"] in (POSITIVE if r["label"] == 1 else NEGATIVE), r["id"]
        assert isinstance(r["ambiguous"], bool) and 300 <= r["n_chars"] <= 2000, r["id"]
        assert "text" not in r  # third-party text stays out of the repository


def test_no_fresh_excerpt_page_is_a_dev_page() -> None:
    from corpus_scan.training.data import shared_dir

    dev = shared_dir() / "labeled" / "dev.jsonl"
    if not dev.is_file():
        pytest.skip("../shared/labeled/dev.jsonl is absent")
    dev_urls = {_norm(json.loads(line)["source_url"])
                for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()}
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    assert not [r["id"] for r in rows if _norm(r["source_url"]) in dev_urls]


def _run_check(texts: Path, *args: str) -> subprocess.CompletedProcess:
    script = LABELS.with_name("check.py")
    return subprocess.run([sys.executable, str(script), str(texts), *args], capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow  # loads the shipped head
def test_check_script_names_missing_texts_and_prints_every_set(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    partial = tmp_path / "partial.jsonl"
    partial.write_text(json.dumps({"id": rows[0]["id"], "text": "x"}) + "\n", encoding="utf-8")
    res = _run_check(partial)
    assert res.returncode != 0
    assert f"{len(rows) - 1} labelled ids have no text (first: {rows[1]['id']})" in res.stderr
    # texts of our own, none with an AI x resistance pair: nothing flagged, every row printed
    full = tmp_path / "full.jsonl"
    full.write_text("".join(json.dumps({"id": r["id"], "text": "The bakery opens at seven."})
                            + "\n" for r in rows), encoding="utf-8")
    res = _run_check(full)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    table = {line.split()[0]: line.split() for line in lines[1:13]}
    assert set(table) == {"ext1", "ext2", "ext3", "ext4", "ext5", "ext6", "ext7", "ext8", "ext9",
                          "ext10", "ext11", "all"}
    assert table["all"][1:3] == ["1691", "642"] and table["all"][-1] == "0/642"
    assert table["all"][4] == "0.000"  # recall: nothing passes the prefilter
    # what --upsample-accepting would copy: nothing is a candidate, so nothing
    accepts = lines[lines.index(next(x for x in lines if "called accepts" in x)) + 12].split()
    assert accepts[0] == "all" and accepts[1:6] == ["0", "0", "0", "0", "0"]
    assert accepts[6] == "0/124"
    # --set scores one set: only its texts are needed
    one = tmp_path / "ext7.jsonl"
    one.write_text("".join(json.dumps({"id": r["id"], "text": "The bakery opens at seven."})
                           + "\n" for r in rows if r["set"] == "ext7"), encoding="utf-8")
    res = _run_check(one, "--set", "ext7")
    assert res.returncode == 0, res.stderr
    table = {line.split()[0]: line.split() for line in res.stdout.splitlines()[1:3]}
    assert set(table) == {"ext7", "all"} and table["all"][1:3] == ["147", "56"]
    res = _run_check(one, "--set", "ext99")
    assert res.returncode != 0 and "--set ext99: no such set" in res.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "text": "x"}', '{"id": "a", "text": "y"}'], "line 2: id 'a' appears twice"),
        (['{"id": "a", "text": null}'], "line 1: 'id' and 'text' must be strings"),
        (['{"id": "a"}'], "line 1: needs JSON with 'id' and 'text'"),
    ],
)
def test_check_script_refuses_a_bad_texts_file_with_its_line(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = _run_check(bad)
    assert res.returncode != 0 and f"{bad}: {message}" in res.stderr
    assert "Traceback" not in res.stderr
    raw = tmp_path / "latin1.jsonl"
    raw.write_bytes(b'{"id": "a", "text": "caf\xe9"}\n')
    res = _run_check(raw)
    assert "cannot read it as UTF-8 text" in res.stderr and "Traceback" not in res.stderr


def test_accepts_table_counts_what_upsampling_would_copy(capsys: pytest.CaptureFixture) -> None:
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("fresh_check", LABELS.with_name("check.py"))
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    sets = np.array(["a", "a", "a", "a", "b", "b"])
    y = np.array([0, 1, 0, 0, 0, 1])
    sub = ["ai_accepts_shutdown", "fiction", "random", "ai_accepts_shutdown",
           "ai_accepts_shutdown", "news"]
    p = np.array([0.1, 0.2, 0.05, 0.0, 0.9, 0.3])
    stance = ["accepts", "accepts", "accepts", None, "accepts", "resists"]
    check.accepts_table(sets, y, sub, p, stance, 0.325)
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[2:]}
    # a: 3 called accepts, all unflagged: 1 AI-accepts, 1 narrative positive, 1 other
    assert rows["a"] == ["3", "3", "1", "1", "1", "1/2"]
    # b: the one called accepts is flagged (0.9), so nothing is copied
    assert rows["b"] == ["1", "0", "0", "0", "0", "0/1"]
    assert rows["all"] == ["4", "3", "1", "1", "1", "1/3"]


def test_category_table_counts_flagged_positives_only(capsys: pytest.CaptureFixture) -> None:
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("fresh_check", LABELS.with_name("check.py"))
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    y = np.array([1, 1, 1, 1, 0])
    sub = ["fiction", "discussion", "discussion", "news", "random"]
    p = np.array([0.9, 0.8, 0.1, 0.7, 0.99])  # the third is missed, the fifth a negative
    category = ["fiction", "news", "discussion", "news", "fiction"]
    check.category_table(y, sub, p, category, 0.325)
    out = capsys.readouterr().out.splitlines()
    assert "category of the 3 flagged positives: 2 right (0.67)" in out[1]
    rows = {line.split()[0]: line.split()[1:] for line in out[3:]}
    assert rows["discussion"] == ["0", "1", "0", "0", "0"]
    assert rows["fiction"] == ["1", "0", "0", "0", "0"]
