"""Lexicon loading, validation, hashing and compilation (own small YAML snippets only)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from corpus_scan.detect.lexicon import (
    DEFAULT_LEXICON_DIR,
    KINDS,
    Lexicon,
    LexiconError,
    load_lexicon,
    widen_spaces,
)

SMALL = """\
# a comment
kind: ai
entries:
  - name: AI
    case: sensitive
    patterns: ['AIs?']
  - name: robot
    patterns: ['robots?']
  - name: shut down
    kind: resist
    patterns: ['shut(s|ting)? ?down']
"""


def entry_yaml(pattern: str, kind: str = "resist", name: str = "bad one") -> str:
    return f"entries:\n  - name: {name}\n    kind: {kind}\n    patterns: ['{pattern}']\n"


def test_default_lexicon_loads_all_kinds() -> None:
    lx = load_lexicon()
    assert DEFAULT_LEXICON_DIR.is_dir()
    assert {e.kind for e in lx.entries} == set(KINDS)
    assert re.fullmatch(r"[0-9a-f]{64}", lx.lexicon_hash)
    assert len(lx.pattern_entry) == sum(len(e.patterns) + len(e.exclude) for e in lx.entries)
    assert lx.max_width <= 200
    lx.compile(som=True)
    lx.compile(som=False)


def test_hash_is_stable_and_tracks_content(tmp_path: Path) -> None:
    a = Lexicon.from_yaml(SMALL)
    assert a.lexicon_hash == Lexicon.from_yaml(SMALL).lexicon_hash
    assert load_lexicon().lexicon_hash == load_lexicon().lexicon_hash
    # comments, whitespace and file splitting do not change the hash
    (tmp_path / "a.yaml").write_text("# other comment\n" + SMALL.replace("# a comment\n", ""))
    assert Lexicon.load(tmp_path).lexicon_hash == a.lexicon_hash
    for changed in (
        SMALL.replace("robots?", "robots"),
        SMALL.replace("name: robot", "name: robots"),
        SMALL.replace("    case: sensitive\n", ""),
        SMALL.replace("kind: resist", "kind: accept"),
        SMALL.replace(
            "patterns: ['robots?']", "patterns: ['robots?']\n    exclude: ['robots\\.txt']"
        ),
    ):
        assert Lexicon.from_yaml(changed).lexicon_hash != a.lexicon_hash


def test_pairs_with_is_hashed_and_without_fallbacks_drops_it() -> None:
    generic = "  - name: generic\n    patterns: ['the model']\n    pairs_with: [shut down]\n"
    a = Lexicon.from_yaml(SMALL)
    b = Lexicon.from_yaml(SMALL + generic)
    c = Lexicon.from_yaml(SMALL + generic.replace("pairs_with: [shut down]", "weight: 1"))
    assert len({a.lexicon_hash, b.lexicon_hash, c.lexicon_hash}) == 3
    assert b.entries[-1].pairs_with == ("shut down",)
    # the head's training lexicon: the fallback entry gone, the rest hashed as before
    assert b.without_fallbacks().lexicon_hash == a.lexicon_hash
    assert a.without_fallbacks() is a


def test_directory_loads_every_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(SMALL)
    (tmp_path / "two.yml").write_text(entry_yaml("blackmail(s|ed)?", name="blackmail"))
    (tmp_path / "notes.txt").write_text("ignored")
    lx = Lexicon.load(tmp_path)
    assert [e.name for e in lx.entries] == ["AI", "robot", "shut down", "blackmail"]
    assert lx.entries[-1].source == "two.yml"
    assert Lexicon.load(tmp_path / "two.yml").entries[0].name == "blackmail"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            entry_yaml("x", kind="robotz"),
            r"bad\.yaml: entry 1 \('bad one'\): unknown kind 'robotz'",
        ),
        (entry_yaml(""), r"bad\.yaml: entry 1 \('bad one'\): empty pattern"),
        (entry_yaml("   "), r"bad\.yaml: entry 1 .*empty pattern"),
        (entry_yaml("shut(down"), r"bad\.yaml: entry 1 \('bad one'\): invalid regex"),
        (entry_yaml("(down)?"), r"entry 1 \('bad one'\): .*can match the empty string"),
        (entry_yaml("a|"), r"can match the empty string"),
        (entry_yaml("(?=x)ab"), r"lookaround"),
        (entry_yaml("(a)b\\1"), r"backreference"),
        (entry_yaml("x{500}"), r"repeat bound 500"),
        (entry_yaml("shut.*down"), r"longer than 200 characters"),
        (
            "entries:\n  - name: x\n    kind: ai\n",
            r"entry 1 \('x'\): 'patterns' must be a non-empty",
        ),
        ("entries:\n  - kind: ai\n    patterns: [a]\n", r"entry 1: missing or empty 'name'"),
        ("entries:\n  - name: x\n    kind: ai\n    patterns: [ab]\n    case: maybe\n", "'case'"),
        ("entries:\n  - name: x\n    kind: ai\n    patterns: [ab]\n    weight: 9\n", "'weight'"),
        ("entries:\n  - name: x\n    kind: ai\n    patterns: [ab]\n    typo: 1\n", "unknown key"),
        ("entries:\n  - name: x\n    patterns: [ab]\n", "unknown kind None"),
        ("entries: [a, b\n", r"bad\.yaml: not valid YAML"),
        ("- just\n- a list\n", "expected a mapping with an 'entries' list"),
        ("kind: robots\nentries: []\n", "unknown default kind"),
        (
            entry_yaml("ab") + "  - name: bad one\n    kind: resist\n    patterns: [cd]\n",
            "duplicate",
        ),
        (entry_yaml("ab") + "    pairs_with: [bad one]\n", "only allowed on ai entries"),
        (
            entry_yaml("ab", kind="ai") + "    pairs_with: [blackmail]\n",
            r"entry 'bad one': pairs_with names no resist entry 'blackmail'",
        ),
        (entry_yaml("ab", kind="ai") + "    pairs_with: {a: 1}\n", "'pairs_with' must be a list"),
    ],
)
def test_invalid_lexicons_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(LexiconError, match=message) as info:
        Lexicon.load(tmp_path)
    assert "\n" not in str(info.value)


def test_pathological_patterns_are_rejected_quickly() -> None:
    for pattern in ("(a+)+b", "(x*y)*z", "((ab){1,3})+", "(a{2,}b){1,5}"):
        t0 = time.perf_counter()
        with pytest.raises(LexiconError, match="nested unbounded repetition"):
            Lexicon.from_yaml(entry_yaml(pattern), source="evil.yaml")
        assert time.perf_counter() - t0 < 0.5


def test_pattern_hyperscan_rejects_is_named() -> None:
    # Valid for Python's parser and bounded, but too large for hyperscan with start offsets.
    lx = Lexicon.from_yaml(SMALL + entry_yaml("\\w{1,100}x\\w{1,99}", name="huge"), "big.yaml")
    t0 = time.perf_counter()
    with pytest.raises(LexiconError, match=r"big\.yaml: entry 'huge': hyperscan rejects"):
        lx.compile(som=True)
    assert time.perf_counter() - t0 < 10


def test_missing_or_empty_lexicon_dir(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="not found"):
        load_lexicon(tmp_path / "nope")
    with pytest.raises(LexiconError, match="no \\*.yaml"):
        load_lexicon(tmp_path)
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    with pytest.raises(LexiconError, match="no entries"):
        load_lexicon(tmp_path)


def test_spaces_widen_outside_classes_only() -> None:
    assert widen_spaces("shut down") != "shut down"
    assert re.fullmatch(widen_spaces("shut down"), "shut-down")
    assert re.fullmatch(widen_spaces("shut down"), "shut \n down")
    assert not re.fullmatch(widen_spaces("shut down"), "shutdown")
    assert re.fullmatch(widen_spaces("HAL[- ]?9000"), "HAL 9000")
    assert widen_spaces(r"a\ b") == r"a\ b"


def test_compiled_databases_and_parsed_lexicons_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers load the compiled hyperscan database and the parsed lexicon from the cache;
    a corrupt cache file only means compiling again, and an edit gets a new cache entry."""
    import hyperscan

    monkeypatch.setenv("CORPUS_SCAN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "lex"
    folder.mkdir()
    (folder / "terms.yaml").write_text(
        "entries:\n  - {name: AI, kind: ai, patterns: ['AI']}\n"
        "  - {name: shut down, kind: resist, patterns: ['shut down']}\n",
        encoding="utf-8",
    )
    first = load_lexicon(folder)
    first.compile(som=True)
    dbs = sorted((tmp_path / "cache" / "hyperscan").glob("*.hsdb"))
    pickles = sorted((tmp_path / "cache" / "lexicons").glob("*.pickle"))
    assert len(dbs) == 1 and len(pickles) == 1
    again = load_lexicon(folder)
    assert again.lexicon_hash == first.lexicon_hash and again.entries == first.entries
    hits: list[int] = []
    db = again.compile(som=True)
    db.scan(b"the AI will shut  down", match_event_handler=lambda i, *a: hits.append(i))
    assert sorted(hits) == [0, 1]
    dbs[0].write_bytes(b"not a database")  # corrupt: compiled again, and replaced
    pickles[0].write_bytes(b"not a pickle")
    assert load_lexicon(folder).lexicon_hash == first.lexicon_hash
    assert isinstance(again.compile(som=True), hyperscan.Database)
    assert dbs[0].read_bytes() != b"not a database"
    (folder / "terms.yaml").write_text(
        "entries:\n  - {name: AI, kind: ai, patterns: ['AI']}\n"
        "  - {name: shut down, kind: resist, patterns: ['shut ?down']}\n",
        encoding="utf-8",
    )
    edited = load_lexicon(folder)
    assert edited.lexicon_hash != first.lexicon_hash
    edited.compile(som=True)
    assert len(list((tmp_path / "cache" / "hyperscan").glob("*.hsdb"))) == 2
