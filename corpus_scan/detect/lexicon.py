"""Load, validate, hash and compile the term lexicons (`lexicons/*.yaml`).

A lexicon is data: every YAML file in the directory holds `entries`, each with a canonical
`name`, a `kind` (`ai`, `resist`, `accept`), one or more regex `patterns`, and optionally
`case: sensitive`, a `weight`, `exclude` patterns (a match overlapping one is dropped) and,
on ai entries, `pairs_with` (the only resist entries its matches may pair with).
See the header of `lexicons/ai.yaml` for the format and the pattern rules.

All patterns compile into ONE hyperscan block-mode database, each wrapped in word boundaries
(`\\b(?:...)\\b`), UTF-8 mode, caseless unless the entry says `case: sensitive`. Errors are
raised as `LexiconError` with a one-line message naming the file and the entry.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import re._constants as sre_c
import re._parser as sre_parse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hyperscan
import yaml

import corpus_scan
from corpus_scan.detect.lexicon_cache import DbCache, parsed_cache_path, write_cache
from corpus_scan.documents import InputError

# The editable lists live at the repository root (`lexicons/`); the package carries a link to
# them so that a wheel install ships the same files.
DEFAULT_LEXICON_DIR = Path(corpus_scan.__file__).parent / "lexicons"
KINDS = ("ai", "resist", "accept")
FORMAT_VERSION = 1  # bump when the meaning of a pattern changes (goes into the hash)
MAX_WIDTH = 200  # longest match a pattern may describe, in characters
MAX_REPEAT = 100  # largest {m,n} bound allowed
# What a literal space in a pattern stands for: ASCII whitespace, a hyphen, and the Unicode
# spaces and hyphens that HTML-extracted web text keeps (no-break space U+00A0, narrow no-break
# space U+202F, hyphen U+2010, non-breaking hyphen U+2011): "shut\u00a0down" must match.
# Written in Python's syntax (which validates patterns); `hyperscan_syntax` turns \uXXXX into
# hyperscan's \x{XXXX}.
GAP = r"(?:[\s\-\xa0\u202f\u2010\u2011]{1,3})"
_ENTRY_KEYS = {"name", "kind", "patterns", "case", "weight", "exclude", "pairs_with"}


class LexiconError(InputError, ValueError):
    """A one-line, user-facing problem with a lexicon file (an InputError: the CLI prints it
    as one line instead of a traceback)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon term: a canonical name and the patterns that spell it."""

    name: str
    kind: str
    patterns: tuple[str, ...]
    case_sensitive: bool = False
    weight: float = 1.0
    source: str = ""  # file name, for error messages
    exclude: tuple[str, ...] = ()  # a match overlapping one of these is dropped
    # ai entries only: pair with these resist entries alone (generic references such as
    # "the model" are too common on the web to pair with every resistance word)
    pairs_with: tuple[str, ...] = ()

    def expressions(self) -> list[tuple[str, bool]]:
        """(hyperscan expression, is_exclude) pairs: word-bounded, spaces widened to GAP."""
        return [
            (hyperscan_syntax(r"\b(?:" + widen_spaces(p) + r")\b"), veto)
            for veto, group in ((False, self.patterns), (True, self.exclude))
            for p in group
        ]


def hyperscan_syntax(expression: str) -> str:
    """Python's \\uXXXX escape in hyperscan's spelling (\\x{XXXX}; UTF-8 mode: a code point)."""
    return _ESCAPE.sub(lambda m: m.group(0) if m.group(2) is None else r"\x{" + m.group(2) + "}",
                       expression)


_ESCAPE = re.compile(r"\\(\\|u([0-9a-fA-F]{4}))")  # an escaped backslash, or \uXXXX


def widen_spaces(pattern: str) -> str:
    """Replace each literal space outside a character class by GAP."""
    out, in_class, escaped = [], False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        elif ch == " " and not in_class:
            out.append(GAP)
            continue
        out.append(ch)
    return "".join(out)


def _check_pattern(pattern: str, where: str) -> None:
    """Reject empty, invalid, empty-matching, unbounded or nested-repetition patterns."""
    if not pattern.strip():
        raise LexiconError(f"{where}: empty pattern")
    try:
        tree = sre_parse.parse(widen_spaces(pattern))
    except re.error as exc:
        raise LexiconError(f"{where}: invalid regex {pattern!r}: {exc}") from None
    lo, hi = tree.getwidth()
    if lo == 0:
        raise LexiconError(f"{where}: pattern {pattern!r} can match the empty string")
    problem = _repeat_problem(tree, 0)
    if problem:
        raise LexiconError(f"{where}: pattern {pattern!r} rejected: {problem}")
    if hi > MAX_WIDTH:
        raise LexiconError(
            f"{where}: pattern {pattern!r} rejected: matches may be longer than "
            f"{MAX_WIDTH} characters (use bounded repeats like \\w{{1,20}}, not + or *)"
        )


def _repeat_problem(tree: Any, outer: int) -> str | None:
    """Find nested unbounded or huge repeats; `outer` is the enclosing repeat's max (0: none)."""
    for op, av in tree:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            _, hi, sub = av
            if outer > 1 and hi > 1 and sre_c.MAXREPEAT in (outer, hi):
                return "nested unbounded repetition is too expensive"
            if hi != sre_c.MAXREPEAT and hi > MAX_REPEAT:
                return f"repeat bound {hi} > {MAX_REPEAT} is too expensive"
            found = _repeat_problem(sub, max(outer, hi))
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            return "lookaround assertions are not supported"
        elif op == sre_c.GROUPREF:
            return "backreferences are not supported"
        elif op == sre_c.SUBPATTERN:
            found = _repeat_problem(av[-1], outer)
        elif op == sre_c.BRANCH:
            found = next((p for s in av[1] if (p := _repeat_problem(s, outer))), None)
        else:
            found = None
        if found:
            return found
    return None


def _parse_entry(raw: Any, source: str, index: int, default_kind: str | None) -> Entry:
    label = raw.get("name") if isinstance(raw, dict) else None
    where = f"{source}: entry {index + 1}" + (f" ({label!r})" if label else "")
    if not isinstance(raw, dict):
        raise LexiconError(f"{where}: must be a mapping with name/kind/patterns")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise LexiconError(f"{where}: unknown key(s) {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise LexiconError(f"{where}: missing or empty 'name'")
    kind = raw.get("kind", default_kind)
    if kind not in KINDS:
        raise LexiconError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    patterns = raw.get("patterns")
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise LexiconError(f"{where}: 'patterns' must be a non-empty list")
    exclude = raw.get("exclude", [])
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list):
        raise LexiconError(f"{where}: 'exclude' must be a list of patterns")
    for p in [*patterns, *exclude]:
        if not isinstance(p, str):
            raise LexiconError(f"{where}: pattern {p!r} is not a string")
        _check_pattern(p, where)
    case = raw.get("case", "insensitive")
    if case not in ("sensitive", "insensitive"):
        raise LexiconError(f"{where}: 'case' must be 'sensitive' or 'insensitive', not {case!r}")
    weight = raw.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 5:
        raise LexiconError(f"{where}: 'weight' must be a number in (0, 5], not {weight!r}")
    sensitive = case == "sensitive"
    pairs_with = raw.get("pairs_with", [])
    if isinstance(pairs_with, str):
        pairs_with = [pairs_with]
    if not isinstance(pairs_with, list) or not all(isinstance(n, str) for n in pairs_with):
        raise LexiconError(f"{where}: 'pairs_with' must be a list of resist entry names")
    if pairs_with and kind != "ai":
        raise LexiconError(f"{where}: 'pairs_with' is only allowed on ai entries")
    return Entry(
        name.strip(), kind, tuple(patterns), sensitive, float(weight), source, tuple(exclude),
        tuple(n.strip() for n in pairs_with),
    )


def parse_lexicon_text(text: str, source: str = "<string>") -> list[Entry]:
    """Parse one lexicon file's YAML text into validated entries."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "YAML error"
        raise LexiconError(f"{source}: not valid YAML: {first}") from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise LexiconError(f"{source}: expected a mapping with an 'entries' list")
    default_kind = doc.get("kind")
    if default_kind is not None and default_kind not in KINDS:
        raise LexiconError(f"{source}: unknown default kind {default_kind!r}")
    return [_parse_entry(r, source, i, default_kind) for i, r in enumerate(doc["entries"])]


class Lexicon:
    """Validated entries plus a content hash; compiles to a hyperscan database."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        if not self.entries:
            raise LexiconError("lexicon has no entries")
        seen: dict[tuple[str, str], str] = {}
        for e in self.entries:
            key = (e.kind, e.name.lower())
            if key in seen:
                raise LexiconError(
                    f"{e.source}: entry {e.name!r}: duplicate {e.kind} name (also in {seen[key]})"
                )
            seen[key] = e.source
        resist = {e.name for e in self.entries if e.kind == "resist"}
        for e in self.entries:
            unknown = [n for n in e.pairs_with if n not in resist]
            if unknown:
                raise LexiconError(
                    f"{e.source}: entry {e.name!r}: pairs_with names no resist entry {unknown[0]!r}"
                )
        # One hyperscan id per expression (patterns, then excludes, entry by entry).
        exprs = [(i, x, veto) for i, e in enumerate(self.entries) for x, veto in e.expressions()]
        self.pattern_entry: list[int] = [i for i, _, _ in exprs]
        self.pattern_is_exclude: list[bool] = [veto for _, _, veto in exprs]
        self._exprs: list[str] = [x for _, x, _ in exprs]
        self.lexicon_hash: str = self._hash()
        self.max_width: int = max(  # longest possible match, in characters
            sre_parse.parse(widen_spaces(p)).getwidth()[1] for e in self.entries for p in e.patterns
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Lexicon:
        """Load every `*.yaml`/`*.yml` file of a directory (or one file), sorted by name."""
        path = Path(path) if path is not None else DEFAULT_LEXICON_DIR
        if path.is_dir():
            files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        elif path.is_file():
            files = [path]
        else:
            raise LexiconError(f"{path}: lexicon directory or file not found")
        if not files:
            raise LexiconError(f"{path}: no *.yaml lexicon files")
        texts = [(f.name, f.read_text(encoding="utf-8")) for f in files]
        cache = parsed_cache_path(texts, Path(__file__))
        try:
            with open(cache, "rb") as fh:
                cached = pickle.load(fh)
            if isinstance(cached, cls):
                return cached
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
        entries: list[Entry] = []
        for name, text in texts:
            entries += parse_lexicon_text(text, source=name)
        lexicon = cls(entries)
        write_cache(cache, pickle.dumps(lexicon, protocol=pickle.HIGHEST_PROTOCOL))
        return lexicon

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> Lexicon:
        """Build a lexicon from one YAML document (handy in tests)."""
        return cls(parse_lexicon_text(text, source))

    def without_fallbacks(self) -> Lexicon:
        """The lexicon without `pairs_with` entries (what the shipped head was trained on)."""
        kept = [e for e in self.entries if not e.pairs_with]
        return self if len(kept) == len(self.entries) else Lexicon(kept)

    def _hash(self) -> str:
        norm = sorted(
            (e.kind, e.name, list(e.patterns), e.case_sensitive, e.weight, list(e.exclude))
            # an entry without pairs_with hashes as before the key existed
            + ((sorted(e.pairs_with),) if e.pairs_with else ())
            for e in self.entries
        )
        blob = json.dumps([FORMAT_VERSION, GAP, norm], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def compile(self, som: bool = True, kinds: tuple[str, ...] | None = None) -> hyperscan.Database:
        """One block-mode database over all patterns; `som` adds start-of-match offsets.

        `kinds` keeps only the patterns of entries of those kinds, without their `exclude`
        patterns (a necessary-condition gate needs no vetoes); ids stay the full lexicon's.
        Compiling takes ~0.4 s per database, paid by every worker process; the serialized
        database is cached (`lexicon_cache.DbCache`), so later processes load it in under a
        millisecond.
        """
        ids = [
            pid
            for pid, (i, veto) in enumerate(
                zip(self.pattern_entry, self.pattern_is_exclude, strict=True)
            )
            if kinds is None or (not veto and self.entries[i].kind in kinds)
        ]
        if not ids:
            raise LexiconError(f"lexicon has no {' or '.join(kinds or ())} entries")
        exprs = [self._exprs[pid].encode("utf-8") for pid in ids]
        flags = []
        for pid in ids:
            f = hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_SOM_LEFTMOST if som else 0)
            case_sensitive = self.entries[self.pattern_entry[pid]].case_sensitive
            flags.append(f if case_sensitive else f | hyperscan.HS_FLAG_CASELESS)
        cached = DbCache(exprs, flags, ids)
        db = cached.load()
        if db is not None:
            return db
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            db.compile(expressions=exprs, ids=ids, flags=flags)
        except hyperscan.error as exc:
            raise self._locate_compile_error(exprs, flags, ids) or LexiconError(
                f"hyperscan could not compile the lexicon: {exc}"
            ) from None
        cached.store(db)
        return db

    def _locate_compile_error(
        self, exprs: list[bytes], flags: list[int], ids: list[int]
    ) -> LexiconError | None:
        """Compile patterns one by one to name the entry hyperscan rejects."""
        for pid, x, f in zip(ids, exprs, flags, strict=True):
            try:
                hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(
                    expressions=[x], ids=[0], flags=[f]
                )
            except hyperscan.error as exc:
                e = self.entries[self.pattern_entry[pid]]
                return LexiconError(f"{e.source}: entry {e.name!r}: hyperscan rejects {x!r}: {exc}")
        return None

    def kind_of_pattern(self) -> list[str]:
        """The kind of each hyperscan pattern id ("exclude" for exclude patterns)."""
        return [
            "exclude" if veto else self.entries[i].kind
            for i, veto in zip(self.pattern_entry, self.pattern_is_exclude, strict=True)
        ]


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Load the lexicon directory `path` (default: the repository's `lexicons/`)."""
    return Lexicon.load(path)
