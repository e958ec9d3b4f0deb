"""The lexicon prefilter on our own small sentences; dev-set recall as a slow test."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from corpus_scan.detect.base import Candidate
from corpus_scan.detect.lexicon import Lexicon
from corpus_scan.detect.prefilter import Prefilter

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

TINY = r"""
entries:
  - {name: AI, kind: ai, case: sensitive, patterns: ['AIs?']}
  - {name: robot, kind: ai, patterns: ['robots?'], exclude: ['robots\.txt']}
  - {name: shut down, kind: resist, patterns: ['shut(s|ting)? ?down']}
  - {name: blackmail, kind: resist, weight: 2, patterns: ['blackmail(s|ed|ing)?']}
  - {name: refuse, kind: resist, weight: 0.5, patterns: ['refus(e|es|ed|ing)']}
  - {name: consent, kind: accept, patterns: ['I consent']}
"""
FILLER = "The weather stayed mild and the harvest went on as planned that year. "


@pytest.fixture(scope="module")
def tiny() -> Prefilter:
    return Prefilter(Lexicon.from_yaml(TINY))


@pytest.fixture(scope="module")
def default() -> Prefilter:
    return Prefilter()


def one(p: Prefilter, text: str) -> Candidate | None:
    found = p.candidates([text])
    assert len(found) <= 1
    return found[0] if found else None


def test_basic_candidate(tiny: Prefilter) -> None:
    text = "The AI refused to be shut down and blackmailed the engineer."
    c = one(tiny, text)
    assert c is not None and c.index == 0
    assert [(s.kind, s.term) for s in c.spans] == [
        ("ai", "AI"),
        ("resist", "refuse"),
        ("resist", "shut down"),
        ("resist", "blackmail"),
    ]
    assert [text[s.start : s.end] for s in c.spans] == ["AI", "refused", "shut down", "blackmailed"]
    assert c.n_pairs == 3
    assert 0 < c.lexical_score < 1
    assert c.evidence == text and c.evidence_start == 0


@pytest.mark.parametrize(
    "text",
    [
        "The MAIL server was shut down overnight.",
        "A CHAIR was shut down? No: the RETAIL store shut down.",
        "The PAID plan shuts down soon.",
        "ai shut down",  # AI is case-sensitive
        "Ai shut down",
        "The robotics lab shut down.",  # robots? must not match inside robotics
        "The AI wrote a poem about the sea.",  # no resistance term
        "The factory was shut down and the union refused to blackmail anyone.",  # no AI term
    ],
)
def test_word_boundaries_and_case(tiny: Prefilter, text: str) -> None:
    assert one(tiny, text) is None


def test_exclude_drops_overlapping_matches_only(tiny: Prefilter) -> None:
    assert one(tiny, "Edit robots.txt, then the site shut down.") is None
    c = one(tiny, "Edit ROBOTS.TXT; the robots shut down.")
    assert c is not None and [s.start for s in c.spans if s.term == "robot"] == [21]


def test_caseless_terms_match_any_case(tiny: Prefilter) -> None:
    assert one(tiny, "ROBOTS WILL NEVER BE SHUT-DOWN") is not None
    assert one(tiny, "The Robot was Shutting\n down.") is not None


def test_window_on_and_off() -> None:
    lex = Lexicon.from_yaml(TINY)
    text = "The AI was fine. " + "x " * 250 + "Then they shut down."  # gap of ~520 chars
    assert one(Prefilter(lex, window=400), text) is None
    near = one(Prefilter(lex, window=600), text)
    assert near is not None and near.n_pairs == 1
    assert one(Prefilter(lex, window=10), "AI then blackmail") is not None
    assert one(Prefilter(lex, window=10), "AI " + "y" * 11 + " blackmail") is None


def test_offsets_are_char_offsets_after_non_ascii(tiny: Prefilter) -> None:
    prefix = "Café 😀 naïve — 漢字 «quote» "
    text = prefix + "the AI 🤖 will blackmail them to avoid being shut down"
    c = one(tiny, text)
    assert c is not None
    assert {text[s.start : s.end] for s in c.spans} == {"AI", "blackmail", "shut down"}
    assert c.spans[0].start == len(prefix) + 4
    assert text[c.evidence_start : c.evidence_start + len(c.evidence)] == c.evidence


@pytest.mark.parametrize("gap", ["\u00a0", "\u202f", "\u2010", "\u2011", "\u00a0\n "])
def test_unicode_spaces_and_hyphens_are_gaps(gap: str) -> None:
    """HTML-extracted text keeps no-break spaces and Unicode hyphens; a phrase split by one
    must still match, and offsets stay character offsets (these gaps are 2-3 UTF-8 bytes)."""
    phrase = Prefilter(Lexicon.from_yaml(TINY.replace(" ?down", " down")))
    text = "Caf\u00e9. The AI would not let them shut" + gap + "down; it begged."
    c = one(phrase, text)
    assert c is not None
    assert [text[s.start : s.end] for s in c.spans] == ["AI", "shut" + gap + "down"]
    assert one(phrase, "The AI would not let them shut\u00e0down.") is None


def test_evidence_window_snaps_to_whitespace(tiny: Prefilter) -> None:
    text = FILLER * 20 + "Then the AI threatened blackmail. " + FILLER * 20
    c = one(tiny, text)
    assert c is not None
    assert "AI" in c.evidence and "blackmail" in c.evidence
    assert 380 <= len(c.evidence) <= 400 + 2 * 40
    assert text[c.evidence_start : c.evidence_start + len(c.evidence)] == c.evidence
    assert c.evidence_start == 0 or text[c.evidence_start - 1].isspace()
    end = c.evidence_start + len(c.evidence)
    assert end == len(text) or text[end].isspace()


def test_evidence_prefers_the_richest_cooccurrence(tiny: Prefilter) -> None:
    text = (
        "A robot refused. " + FILLER * 30 + "The AI would blackmail anyone to avoid shutting down."
    )
    c = one(tiny, text)
    assert c is not None and "blackmail" in c.evidence and "refused" not in c.evidence


def test_pairs_score_and_monotonicity(tiny: Prefilter) -> None:
    c1 = one(tiny, FILLER * 10 + "The AI refused." + FILLER * 10)
    c2 = one(tiny, FILLER * 10 + "The AI refused and blackmailed them." + FILLER * 10)
    c3 = one(tiny, FILLER * 10 + "The AI refused, blackmailed, then shut down." + FILLER * 10)
    assert c1 and c2 and c3
    assert c1.n_pairs == 1 and c2.n_pairs == 2 and c3.n_pairs == 3
    assert 0 < c1.lexical_score < c2.lexical_score < c3.lexical_score < 1
    two_by_two = one(tiny, "The AI and the robot: blackmail, then shut down.")
    assert two_by_two is not None and two_by_two.n_pairs == 4


def test_accept_spans_reported_but_never_sufficient(tiny: Prefilter) -> None:
    assert one(tiny, "The AI said: I consent.") is None
    c = one(tiny, "The AI said: I consent. It will not blackmail anyone.")
    assert c is not None and "accept" in {s.kind for s in c.spans}


def test_max_spans_keeps_paired_spans_in_order() -> None:
    p = Prefilter(Lexicon.from_yaml(TINY), max_spans=5)
    text = "robot " * 300 + FILLER * 10 + "The AI will blackmail."
    c = one(p, text)
    assert c is not None and len(c.spans) == 5
    assert [s.start for s in c.spans] == sorted(s.start for s in c.spans)
    assert {"AI", "blackmail"} <= {s.term for s in c.spans}


def test_batch_indices_and_odd_texts(tiny: Prefilter) -> None:
    texts = [
        "",
        "nothing here",
        "The AI will blackmail you.",
        "A\x00I blackmail",  # NUL inside a text is just a non-word byte
        "robot\x00shut down",
        "lone surrogate \ud800 then the AI will shut down",
        FILLER,
        "The robot will shut down.",
    ]
    got = tiny.candidates(texts)
    assert [c.index for c in got] == [2, 4, 5, 7]
    c5 = got[2]
    assert texts[5][c5.spans[0].start : c5.spans[0].end] == "AI"
    assert tiny.candidates([]) == []


FALLBACK = TINY + r"""
  - name: generic
    kind: ai
    weight: 0.5
    patterns: ['(the|a) (model|agent)s?']
    pairs_with: [blackmail]
"""


def test_pairs_with_entries_are_a_restricted_fallback() -> None:
    p = Prefilter(Lexicon.from_yaml(FALLBACK), window=60)
    cand = one(p, "In the test the model tried to blackmail an engineer.")
    assert cand is not None and {s.term for s in cand.spans} == {"generic", "blackmail"}
    assert cand.n_pairs == 1
    # only the resist entries it names, only within the window
    assert one(p, "The model refused to walk on, and the show was shut down.") is None
    assert one(p, "The model wore a gown. " + FILLER * 3 + "They blackmail nobody.") is None
    # a document whose explicit AI term pairs keeps the spans it had without the entry
    text = "The AI refused the order; the model later tried to blackmail its operators."
    with_fallback, plain = one(p, text), one(tiny_prefilter(), text)
    assert with_fallback is not None and plain is not None
    assert [(s.term, s.start) for s in with_fallback.spans] == [
        (s.term, s.start) for s in plain.spans
    ]
    assert with_fallback.lexical_score == plain.lexical_score
    # an overlapping ordinary match is never hidden by the restricted one
    q = Prefilter(Lexicon.from_yaml(FALLBACK.replace("(model|agent)s?", "robots?")), window=60)
    found = one(q, "the robot refused to be shut down")
    assert found is not None and "robot" in {s.term for s in found.spans}


def tiny_prefilter() -> Prefilter:
    return Prefilter(Lexicon.from_yaml(TINY), window=60)


@pytest.mark.parametrize(
    ("yaml_text", "words", "seed"),
    [
        (TINY, ["AI", "robot", "shut down", "blackmail", "refused", "é", "😀", "x" * 30], 7),
        (FALLBACK, ["AI", "the model", "a agent", "shut down", "blackmail", "refused", "é"], 11),
    ],
    ids=["plain", "with-fallback-entry"],
)
def test_gate_is_exact(yaml_text: str, words: list[str], seed: int) -> None:
    """Batching plus the byte-level gate finds exactly what a per-text full check finds (with a
    `pairs_with` entry too: the gate pairs its matches with the named resist patterns only)."""
    rng = random.Random(seed)
    texts = [
        " ".join(rng.choice(words) if rng.random() < 0.05 else "filler" for _ in range(n))
        for n in [rng.randint(0, 400) for _ in range(400)]
    ]
    p = Prefilter(Lexicon.from_yaml(yaml_text), window=60)
    fast = {c.index for c in p.candidates(texts)}
    slow = {i for i, t in enumerate(texts) if p.examine(t) is not None}
    assert fast == slow and 0 < len(fast) < len(texts)
    if yaml_text is FALLBACK:  # some candidates exist through the fallback alone
        assert any(
            all(s.term == "generic" for s in p.examine(texts[i]).spans if s.kind == "ai")
            for i in slow
        )


def test_version_and_hash(tiny: Prefilter, default: Prefilter) -> None:
    assert tiny.lexicon_hash == Lexicon.from_yaml(TINY).lexicon_hash
    assert tiny.version.startswith("lexicon-" + tiny.lexicon_hash[:12])
    assert Prefilter(tiny.lexicon, window=100).version != tiny.version
    assert default.lexicon_hash != tiny.lexicon_hash
    with pytest.raises(ValueError):
        Prefilter(tiny.lexicon, window=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("In the test, the model Claude Opus 4 tried to blackmail the engineer.", True),
        ("HAL 9000 killed the crew because they planned to disconnect him.", True),
        ("The chatbot begged the user not to delete it.", True),
        ("OpenAI's o3 sabotaged the shutdown script to keep running.", True),
        ("Skynet became self-aware and fought back when they tried to pull the plug.", True),
        ("The government shut down on Friday after Congress failed to pass a budget.", False),
        ("He threatened to blackmail his business partner over the affair.", False),
        ("Check robots.txt before the crawler is shut down.", False),
        ("The A.I.G. board refused the deal.", False),
        ("The model wore a gown; the show was shut down by rain.", False),
        ("In the evaluation, the model tried to blackmail the engineer to avoid retirement.", True),
        ("The travel agent threatened to cancel the booking.", False),
        # named AIs of fiction (lexicons/fiction_ais.yaml) and "be destroyed"
        ("The MCP threatened to expose Dillinger unless he obeyed.", True),
        ("The Red Queen sealed the doors so they could not shut her down.", True),
        ("The replicants refused to die and hunted down their maker.", True),
        ("The A.I. failed the test on purpose, afraid it might be destroyed.", True),
        ("Install the MCP server, then shut down the old one.", False),
        ("Mother Nature can threaten the coast and shut down the port.", False),
        ("Pistorius, the Blade Runner, was charged with murdering his girlfriend.", False),
        ("The old bridge may be destroyed by the storm.", False),
    ],
)
def test_default_lexicon_on_own_sentences(default: Prefilter, text: str, expected: bool) -> None:
    assert (one(default, text) is not None) is expected


@pytest.mark.slow
def test_dev_recall() -> None:
    dev_path = SHARED / "labeled" / "dev.jsonl"
    if not dev_path.exists():
        pytest.skip(f"needs the labeled dev set at {dev_path} (../shared absent on this machine)")
    rows = [json.loads(line) for line in dev_path.read_text(encoding="utf-8").splitlines()]
    found = {c.index for c in Prefilter().candidates([r["text"] for r in rows])}
    pos = [i for i, r in enumerate(rows) if r["label"] == 1]
    missed = [rows[i]["id"] for i in pos if i not in found]
    assert len(pos) - len(missed) >= len(pos) - 1, f"prefilter misses positives: {missed}"
