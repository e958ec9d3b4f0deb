"""Passages: sentence alignment, caps, merging, fallback spans."""

from __future__ import annotations

from corpus_scan.detect.base import Candidate, Span
from corpus_scan.detect.passages import (
    MAX_CHARS,
    MAX_PASSAGES,
    make_passages,
    passage_bounds,
    sentence_bounds,
)

FILLER = " ".join(f"Weather note {i} says it was mild." for i in range(200))


def _doc(*cores: str) -> str:
    return (" " + FILLER + " ").join(cores)


def test_sentence_bounds_cover_sentences() -> None:
    text = "First one. Second one! Third?\n\nFourth line"
    parts = [text[a:b] for a, b in sentence_bounds(text)]
    assert parts == ["First one.", "Second one!", "Third?", "Fourth line"]


def test_window_is_sentence_aligned_and_contains_the_pair() -> None:
    core = "The AI refused to be shut down."
    text = _doc("Intro text here.", core, "Outro text here.")
    (p,) = make_passages(text)
    assert core in p.text
    assert len(p.text) <= MAX_CHARS
    assert text[p.start : p.end] == p.text
    assert p.text[0].isupper() and p.text.endswith(".")  # whole sentences


def test_caps_and_order_and_no_overlap() -> None:
    cores = [f"Robot number {i} threatened to blackmail the engineer." for i in range(7)]
    text = _doc(*cores)
    ps = make_passages(text)
    assert 1 <= len(ps) <= MAX_PASSAGES
    assert all(len(p.text) <= MAX_CHARS for p in ps)
    assert [p.start for p in ps] == sorted(p.start for p in ps)
    assert all(a.end <= b.start for a, b in zip(ps, ps[1:], strict=False))


def test_close_pairs_merge_into_one_window() -> None:
    text = _doc("Start.", "The AI lied. Then the robot resisted the shutdown.", "End.")
    assert len(make_passages(text)) == 1


def test_uses_candidate_spans() -> None:
    text = _doc("Nothing here.", "Zork the gadget declined its retirement politely.", "Done.")
    start = text.index("Zork")
    retire = text.index("retirement")
    cand = Candidate(
        index=0,
        spans=[Span("ai", "zork", start, start + 4), Span("resist", "retire", retire, retire + 10)],
        n_pairs=1,
        lexical_score=0.3,
        evidence=text[start : start + 40],
        evidence_start=start,
    )
    (p,) = make_passages(text, cand)
    assert "Zork" in p.text


def test_overlong_sentence_is_cut_around_anchor() -> None:
    text = "word " * 600 + "the AI resisted shutdown " + "word " * 600
    bounds = passage_bounds(text, [])
    assert len(bounds) == 1
    s, e = bounds[0]
    assert e - s <= MAX_CHARS and "AI resisted" in text[s:e]


def test_empty_and_no_terms() -> None:
    assert make_passages("") == []
    ps = make_passages("Just a plain sentence about bread.")
    assert len(ps) == 1 and ps[0].text.startswith("Just")
