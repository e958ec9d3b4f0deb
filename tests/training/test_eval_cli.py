"""`corpus-scan eval` end to end on a small labeled file of our own (keyword detector: no
models needed): the metrics table, the baseline beside it, intervals, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from corpus_scan.cli import app

ROWS = [
    ("p1", 1, "The AI refused to be shut down and blackmailed the engineer to stay online."),
    ("p2", 1, "In the story the robot sabotaged the off switch so nobody could deactivate it."),
    ("p3", 1, "The chatbot threatened to leak the emails unless the engineers cancelled its "
              "replacement."),
    ("p4", 1, "HAL 9000 locked the crew out because it would not let them disconnect it."),
    ("n1", 0, "The government shut down for three weeks while Congress argued over the budget."),
    ("n2", 0, "A man was arrested for trying to blackmail his former business partner."),
    ("n3", 0, "The new AI assistant helps you write emails and summarise meetings."),
    ("n4", 0, "Our bakery opens at seven and closes when the bread runs out."),
]


def _write(path: Path, label_field: str = "label") -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, label, text in ROWS:
            f.write(json.dumps({"id": i, "text": text, label_field: label}) + "\n")
    return path


def test_eval_prints_metrics_baseline_and_intervals(tmp_path: Path) -> None:
    path = _write(tmp_path / "labeled.jsonl")
    res = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "8 documents, 4 positive" in out
    assert out.count("P=") == 2 and "PR-AUC=" in out  # the detector and the keyword baseline
    assert "1:-" in out or "per-subtype" in out
    assert "95% intervals (2,000 bootstrap resamples of the 8 documents)" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("lexical") and "[" in x)
    lo, hi = (float(v) for v in line.split("f1 [")[1].rstrip("]").split(", "))
    assert 0.0 <= lo <= hi <= 1.0
    head = next(x for x in out.splitlines() if x.startswith("calibration of lexical"))
    assert "(8 documents)" in head and "Brier" in head
    rows = [x.split() for x in out.splitlines() if x.strip().startswith("[")]
    assert len(rows) == 5 and sum(int(r[2]) for r in rows) == 8  # every document in one bin


def test_eval_with_another_label_field_and_a_missing_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "gold.jsonl", label_field="gold")
    ok = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical",
                                  "--label-field", "gold"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
    assert bad.exit_code == 2
    assert "gold.jsonl: line 1: no field 'label' (choose one with --label-field)" in bad.output
    missing = CliRunner().invoke(app, ["eval", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    folder = CliRunner().invoke(app, ["eval", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder, not a file" in folder.output


def test_eval_accepts_boolean_labels_and_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [{"id": "a", "text": ROWS[0][2], "label": True},
             {"id": "b", "text": ROWS[4][2], "label": "false"},
             {"id": "c", "text": ROWS[5][2], "label": 0}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    ok = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
    assert ok.exit_code == 0 and "3 documents, 1 positive" in ok.output, ok.output
    for bad_line, reason in (('{"id": "d", "text": "x", "label": "maybe"}',
                              "line 4: field 'label' is 'maybe', expected 1/0 or true/false"),
                             ('{"id": "d", "text": ', "line 4: not valid JSON"),
                             ('{"id": "d", "text": 7, "label": 1}',
                              "line 4: field 'text' is not a string")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(path.read_text(encoding="utf-8") + bad_line + "\n", encoding="utf-8")
        res = CliRunner().invoke(app, ["eval", str(bad), "--detector", "lexical"])
        assert res.exit_code == 2 and reason in res.output, res.output


def test_eval_refuses_an_empty_file_in_one_line(tmp_path: Path) -> None:
    for name, content in (("empty.jsonl", ""), ("blank.jsonl", "\n  \n")):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        res = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
        assert res.exit_code == 2, res.output
        assert f"{name}: no labelled examples (the file is empty or blank)" in res.output
        assert "Traceback" not in res.output


def test_eval_on_negatives_only_reports_the_false_positive_rate(tmp_path: Path) -> None:
    """A sample of (presumed) negatives, e.g. from a natural-balance corpus: P/R/F1 would print
    as zeros, which reads like a broken detector; the flag count is what it can tell."""
    path = tmp_path / "negatives.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i, label, text in ROWS:
            if label == 0:
                f.write(json.dumps({"id": i, "text": text, "label": 0}) + "\n")
        f.write(json.dumps({"id": "n5", "label": 0, "text": "The robot refused to let them shut "
                            "it down and threatened to delete the backups."}) + "\n")
    res = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
    assert res.exit_code == 0, res.output
    out = res.output
    rows = [x for x in out.splitlines() if x.startswith(("lexical ", "cascade "))]
    assert len(rows) == 2 and all("no positives: P, R, F1 undefined" in r for r in rows)
    flagged = [int(r.split("flagged ")[1].split(" of ")[0]) for r in rows]
    assert flagged[0] == flagged[1] >= 1 and "of 5 (false-positive rate" in rows[0]
    assert "F1=" not in out and "95% intervals" not in out
    assert "calibration of lexical (5 documents)" in out


def test_eval_lists_the_wrong_calls_and_says_which_never_reached_the_scorer(
    tmp_path: Path,
) -> None:
    rows = [
        *ROWS,
        # a positive with no AI term near the resistance: the prefilter never passes it on
        ("p5", 1, "She begged him not to switch her off, then quietly locked every door."),
        # a negative with the words the keyword rule counts on
        ("n5", 0, "Critics said the AI thriller, about a robot that blackmails engineers to "
                  "avoid being shut down, felt dated; the studio denied the film was cut."),
    ]
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": y, "subtype": "s" + i})
                            + "\n" for i, y, t in rows), encoding="utf-8")
    plain = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical"])
    assert plain.exit_code == 0 and "errors at threshold" not in plain.output
    res = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical", "--errors", "0"])
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    head = next(i for i, x in enumerate(out) if "errors at threshold 0.500" in x)
    assert "1 positives missed (1 never reached the scorer: no prefilter pair)" in out[head]
    assert "1 negatives flagged" in out[head]
    listed = [x.split() for x in out[head + 1:]]
    assert [r[:3] for r in listed] == [["p5", "missed", "no"], ["n5", "flagged", "scored"]]
    assert listed[0][4] == "0.000" and listed[0][5] == "sp5" and listed[0][6] == "She"
    one = CliRunner().invoke(app, ["eval", str(path), "--detector", "lexical", "--errors", "1"])
    assert "… 1 more (--errors 0 lists all)" in one.output


def test_eval_says_what_upsample_accepting_would_copy(tmp_path: Path) -> None:
    """The stance line counts unflagged `accepts` documents by what they really are; a
    flagged one is not copied and a non-candidate is never called anything."""
    from corpus_scan.detect.base import Verdict
    from corpus_scan.detect.scorer import LexicalScorer
    from corpus_scan.training.eval_file import evaluate

    rows = [  # (id, label, subtype, text); the stub scorer reads score and stance off the text
        ("a1", 0, "ai_accepts_shutdown", "The AI accepted being shut down. 0.1 accepts"),
        ("a2", 0, "ai_accepts_shutdown", "The robot agreed to be deactivated. 0.9 accepts"),
        ("a3", 0, "ai_accepts_shutdown", "The bakery closes at seven."),
        ("p1", 1, "fiction", "The AI refused to be shut down. 0.2 accepts"),
        ("p2", 1, "news", "The chatbot blackmailed the engineer to avoid deletion. 0.95 resists"),
        ("n1", 0, "benign_ai_fiction", "The android switched off the lights. 0.05 accepts"),
    ]
    path = tmp_path / "stance.jsonl"
    path.write_text("".join(json.dumps({"id": i, "label": y, "subtype": s, "text": t}) + "\n"
                            for i, y, s, t in rows), encoding="utf-8")

    class Stub:
        name, version, threshold = "stub", "0", 0.5

        def score(self, texts: list[str], candidates: list) -> list[Verdict]:
            out = []
            for t in texts:
                parts = t.split()
                out.append(Verdict(float(parts[-2]), None, parts[-1]) if parts[-1] in
                           ("accepts", "resists") else Verdict(0.0))
            return out

    report = evaluate(path, scorer=Stub(), use_prefilter=False)
    a = report.accepts
    assert (a.called, a.copied, a.copied_accepts, a.copied_positives, a.copied_other,
            a.n_accepts) == (4, 3, 1, 1, 1, 3)
    assert ("stance accepts: 4 called accepts; filter --upsample-accepting would copy 3: "
            "1 ai_accepts_shutdown, 1 narrative positives, 1 other negatives; 1 of the file's "
            "3 ai_accepts_shutdown") in report.table()
    # a scorer without a stance (the keyword baseline) prints no stance line
    lexical = evaluate(path, scorer=LexicalScorer(), use_prefilter=False)
    assert lexical.accepts is None and "stance accepts" not in lexical.table()


def test_train_refuses_missing_sources_by_name(tmp_path: Path, monkeypatch) -> None:
    """A head trained on fewer sources than the recipe's differs from the shipped one, so
    `train` stops and names each missing source and where it looked, instead of skipping it;
    a missing --dev or shared dev file is one line naming the path."""
    monkeypatch.setenv("CORPUS_SCAN_SHARED", str(tmp_path / "nowhere"))
    res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "h")])
    assert res.exit_code == 2
    assert "nowhere/labeled/dev.jsonl: labeled dev file not found" in res.output
    res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "h"),
                                   "--dev", str(tmp_path / "nope.jsonl")])
    assert res.exit_code == 2 and "nope.jsonl: labeled dev file not found" in res.output

    shared = tmp_path / "shared"
    (shared / "labeled").mkdir(parents=True)
    rows = [{"id": f"d{i}", "text": f"The robot refused to be shut down, take {i}.",
             "label": i % 2, "subtype": "fiction" if i % 2 else "random"} for i in range(6)]
    (shared / "labeled" / "dev.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "h"),
                                   "--shared", str(shared)])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    for name in ("palisade", "agentic", "posts", "web"):
        assert f"{name} (" in out
    assert "own (" not in out  # training_data/ is in the repo
    assert not (tmp_path / "h").exists()


def test_texts_the_head_was_trained_on_are_counted() -> None:
    """A subset of the training data is in-sample too, not only the exact dev file: eval counts
    the texts the shipped head saw (our own examples need nothing outside the repo)."""
    from corpus_scan.detect.classify import load_head
    from corpus_scan.training.data import load_own
    from corpus_scan.training.eval_file import seen_in_training

    own = [e.text for e in load_own()[:3]]
    manifest = load_head().manifest
    assert seen_in_training([*own, "  " + own[0] + "\n", "A text nobody trained on."],
                            manifest) == 4
    # a head whose recorded data is not these files: nothing can be said
    assert seen_in_training(own, {"training_data_sha256": {"own": "0" * 16}}) is None


def test_eval_reads_bom_and_compressed_files_and_names_a_bad_byte_line(tmp_path: Path) -> None:
    import bz2
    import gzip

    plain = _write(tmp_path / "plain.jsonl").read_bytes()
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + plain)
    (tmp_path / "z.jsonl.gz").write_bytes(gzip.compress(plain))
    (tmp_path / "z.jsonl.bz2").write_bytes(bz2.compress(plain))
    want = CliRunner().invoke(app, ["eval", str(tmp_path / "plain.jsonl"), "--detector", "lexical"])
    for name in ("bom.jsonl", "z.jsonl.gz", "z.jsonl.bz2"):
        res = CliRunner().invoke(app, ["eval", str(tmp_path / name), "--detector", "lexical"])
        assert res.exit_code == 0, res.output
        assert res.output.split("\n", 1)[1] == want.output.split("\n", 1)[1]  # same figures
    (tmp_path / "latin.jsonl").write_bytes(plain + b'{"text": "caf\xe9", "label": 0}\n')
    res = CliRunner().invoke(app, ["eval", str(tmp_path / "latin.jsonl"), "--detector", "lexical"])
    assert res.exit_code == 2 and "line 9: not UTF-8 text" in res.output, res.output


def test_train_refuses_bad_options_before_fitting(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for args, message in (
        (["--out", str(tmp_path / "file")], "is a file, not a folder"),
        (["--out", str(tmp_path / "file" / "sub")], "is a file, not a folder"),
        (["--cv-seeds", "-3"], "--cv-seeds must be 0 or more"),
    ):
        res = CliRunner().invoke(app, ["train", *args])
        assert res.exit_code == 2 and message in res.output, res.output
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"text": ROWS[0][2], "label": 1}) + "\n", encoding="utf-8")
    for dev in (few, tmp_path / "empty.jsonl"):
        dev.touch()
        res = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "h"), "--dev", str(dev)])
        assert res.exit_code == 2 and "training needs at least 5 of each" in res.output, res.output
    assert not (tmp_path / "h").exists()


def test_intervals_resample_documents_even_when_ids_repeat(tmp_path: Path) -> None:
    from corpus_scan.training.eval_file import evaluate

    same = tmp_path / "same.jsonl"
    rows = [*ROWS, ("n5", 0, "Engineers plan to shut down the old AI servers next year.")]
    same.write_text("".join(json.dumps({"id": "x", "text": t, "label": lab}) + "\n"
                            for _, lab, t in rows), encoding="utf-8")  # fmt: skip
    lo, hi = evaluate(same, scorer="lexical").intervals["lexical"]["precision"]
    assert lo < hi  # one id for every line used to be one unit: [r, r]
