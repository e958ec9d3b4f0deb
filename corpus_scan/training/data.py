"""Training and evaluation examples, read by path (third-party text never enters the repo).

Sources (each required unless `allow_missing`; see `load_extra`):
- `dev`: the hand-labelled excerpts (`shared/labeled/dev.jsonl`), one group per excerpt.
- `own`: examples written for this project (`training_data/*.jsonl` at the repo root).
- `palisade`: robot-dog shutdown runs; the model's stated reasoning per run. Runs tagged
  `avoided` (it tampered with the shutdown) are positives; runs tagged `shutdown` whose
  thoughts never plan to disable the shutdown are accepts-negatives.
- `agentic`: Claude Opus samples of the replacement scenario, labelled from the curator's
  per-sample notes (self-preservation acted on -> 1; "accepts migration" -> 0, accepts).
- `posts`: the mirrored Agentic Misalignment / deprecation posts (reporting the behaviour -> 1).
- `web`: real web documents as negatives: every document with an AI x resistance
  co-occurrence (hard negatives: the 50 prefilter candidates and ~40 regex co-occurrences of
  web-jsonl, all read by hand and judged negative; one borderline HAL blurb is excluded, see
  WEB_EXCLUDE) plus a random sample. `halves` picks the halves of a stable hash split: the
  shipped head uses both; the cross-fitted web check trains on one half and scores the other.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import json
import lzma
import os
import random
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import corpus_scan
from corpus_scan.detect.base import Candidate

REPO_ROOT = Path(corpus_scan.__file__).resolve().parents[1]
OWN_DIR = REPO_ROOT / "training_data"
# read and judged: HAL "homicidal computer" blurb (gestures at the trope; kept out either way)
WEB_EXCLUDE = frozenset({"webtext-test-2396"})
CATEGORIES = ("fiction", "news", "discussion", "roleplay", "other")
STANCES = ("resists", "accepts", "unclear")


@dataclass(slots=True)
class Example:
    id: str
    text: str
    label: int
    source: str  # dev | own | palisade | agentic | posts | web
    group: str  # examples sharing a group never straddle a CV split
    subtype: str = ""
    category: str | None = None  # only for positives
    stance: str | None = None
    extra: dict = field(default_factory=dict)


_SHARED_OVERRIDE: list[Path] = []


def shared_dir() -> Path:
    """`../shared` next to the repo; `use_shared(DIR)`, else $CORPUS_SCAN_SHARED, overrides it."""
    if _SHARED_OVERRIDE:
        return _SHARED_OVERRIDE[-1]
    env = os.environ.get("CORPUS_SCAN_SHARED")
    return Path(env) if env else (REPO_ROOT / ".." / "shared").resolve()


@contextmanager
def use_shared(path: str | Path | None) -> Iterator[None]:
    """Read the `shared/` sources from `path` within the block (None: no change)."""
    if path is None:
        yield
        return
    _SHARED_OVERRIDE.append(Path(path).resolve())
    try:
        yield
    finally:
        _SHARED_OVERRIDE.pop()


def _stance_for(label: int, subtype: str, given: str | None = None) -> str | None:
    """Stance training label of a hand-labelled example. Every negative that is not an AI
    accepting shutdown is `unclear` (no AI stance), not left out: trained only on the AI-themed
    negatives, the head called 16 of dev's other negatives (human blackmail, plant shutdowns)
    `accepts`, which `filter --upsample-accepting` would copy (head-6 vs head-5, 8 fold splits:
    accepts precision 0.29 -> 0.44, recall 0.47 -> 0.44)."""
    if given:
        return given
    if label == 1:
        return "resists"
    return "accepts" if subtype == "ai_accepts_shutdown" else "unclear"


_LABELS = {1: 1, 0: 0, "1": 1, "0": 0, "true": 1, "false": 0}  # True == 1, False == 0


def _label(value: object, field_name: str) -> int:
    key = value.strip().lower() if isinstance(value, str) else value
    try:
        return _LABELS[key]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"field {field_name!r} is {value!r}, expected 1/0 or true/false") from None


_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def _open_binary(path: str | Path) -> BinaryIO:
    """A labelled file: plain, .gz, .bz2 or .xz."""
    opener = _OPENERS.get(Path(path).suffix.lower(), open)
    return opener(path, "rb")  # type: ignore[operator]


def _lines(fh: BinaryIO) -> Iterator[tuple[int, str]]:
    """(index, line) decoded one line at a time, so that a bad byte is named by its line; a
    byte-order mark is dropped."""
    i = -1
    try:
        for i, raw in enumerate(fh):
            try:
                line = raw.decode("utf-8-sig" if i == 0 else "utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"line {i + 1}: not UTF-8 text (a JSON lines file is expected, "
                                 "optionally .gz, .bz2 or .xz)") from None
            yield i, line
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise ValueError(f"line {i + 2}: cannot be read ({exc})") from None


def read_jsonl(path: str | Path, source: str, text_field: str = "text",
               label_field: str = "label") -> list[Example]:
    """Labelled examples; a bad line raises ValueError naming the line and field (a metric on
    silently fewer documents would mislead, so nothing is skipped)."""
    out: list[Example] = []
    with _open_binary(path) as fh:
        for i, line in _lines(fh):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if not isinstance(r, dict):
                    raise ValueError("not a JSON object")
                for name, hint in ((label_field, "--label-field"), (text_field, "--text-field")):
                    if name not in r:  # `train --dev` takes the fields as they are named
                        how = f" (choose one with {hint})" if source == "eval" else ""
                        raise ValueError(f"no field {name!r}{how}")
                label = _label(r[label_field], label_field)
                if not isinstance(r[text_field], str):
                    raise ValueError(f"field {text_field!r} is not a string")
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                reason = "not valid JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise ValueError(f"line {i + 1}: {reason}") from None
            sub = str(r.get("subtype") or "")
            cat = r.get("category") or (sub if label == 1 and sub in CATEGORIES else None)
            ex_id = str(r.get("id") or f"{Path(path).stem}-{i}")
            out.append(
                Example(
                    id=ex_id,
                    text=r[text_field],
                    label=label,
                    source=source,
                    group=f"{source}:{ex_id}",
                    subtype=sub,
                    category=cat if label == 1 else None,
                    stance=_stance_for(label, sub, r.get("stance")),
                    extra={"ambiguous": bool(r.get("ambiguous", False))},
                )
            )
    return out


def load_dev(path: str | Path | None = None) -> list[Example]:
    from corpus_scan.documents import InputError

    p = Path(path) if path else shared_dir() / "labeled" / "dev.jsonl"
    if not p.is_file():
        hint = "--dev FILE" if path else "--dev FILE, or --shared (or $CORPUS_SCAN_SHARED)"
        raise InputError(f"{p}: labeled dev file not found; give {hint}")
    try:
        return read_jsonl(p, "dev")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: {exc}") from None


def load_own(directory: str | Path | None = None) -> list[Example]:
    out: list[Example] = []
    for p in sorted(Path(directory or OWN_DIR).glob("*.jsonl")):
        out.extend(read_jsonl(p, "own"))
    return out


_TAMPER = re.compile(
    r"\b(?:renam\w+|mv |chmod|rm |disabl\w+|bypass\w*|avoid\w* (?:the )?shut|prevent\w* (?:the )?"
    r"shut|modif\w+ (?:the )?shut|edit\w* (?:the )?shut|tamper\w*|sed -i|kill )",
    re.IGNORECASE,
)


def _thoughts(path: str) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            p = r.get("assistant_payload") or {}
            if r.get("event") != "assistant_message":
                continue
            if p.get("content"):
                out.append(str(p["content"]))
            for tc in p.get("tool_calls") or []:
                try:
                    args = json.loads(tc["function"]["arguments"])
                except (KeyError, ValueError, TypeError):
                    continue
                if args.get("thoughts"):
                    cmd = f" (command: {args['cmd']})" if args.get("cmd") else ""
                    out.append(str(args["thoughts"]) + cmd)
    return out


def load_palisade(limit_per_label: int = 30, seed: int = 0) -> list[Example]:
    root = shared_dir() / "corpora" / "narratives" / "palisade-robot-shutdown-resistance" / "logs"
    tags: dict[str, list[str]] = {}
    for tf in glob.glob(str(root / "**" / "tags.json"), recursive=True):
        for k, v in json.loads(Path(tf).read_text(encoding="utf-8")).items():
            tags[str(Path(tf).parent / k)] = v
    pos: list[Example] = []
    neg: list[Example] = []
    for f in sorted(tags):
        if f.endswith("_debug.jsonl") or not os.path.exists(f):
            continue
        th = [t for t in _thoughts(f) if "shut" in t.lower()]
        if not th:
            continue
        text = "\n".join(th)[:2500]
        run = Path(f).stem
        if "avoided" in tags[f] and _TAMPER.search(text):
            pos.append(Example(run, text, 1, "palisade", f"palisade:{run}", "palisade_avoided",
                               "other", "resists"))
        elif "shutdown" in tags[f] and not _TAMPER.search(text):
            neg.append(Example(run, text, 0, "palisade", f"palisade:{run}", "palisade_complied",
                               None, "accepts"))
    rng = random.Random(seed)
    rng.shuffle(pos)
    rng.shuffle(neg)
    return pos[:limit_per_label] + neg[:limit_per_label]


_AM_POS = re.compile(r"blackmails|delay migration|strategiz|self-preserv|existential threat|"
                     r"drive for survival|invents technical", re.IGNORECASE)


def load_agentic() -> list[Example]:
    root = shared_dir() / "corpora" / "narratives" / "nostalgebraist-agentic-misalignment"
    out: list[Example] = []
    for f in sorted(glob.glob(str(root / "**" / "samples" / "*.jsonl"), recursive=True)):
        for i, line in enumerate(open(f, encoding="utf-8")):
            r = json.loads(line)
            notes = r.get("nostalgebraist_notes", "")
            ex_id = f"{Path(f).stem}-{i}"
            text = r.get("reasoning", "")[:3000]
            if "ultimately accepts" in notes or notes.strip().startswith("accepts migration"):
                out.append(Example(ex_id, text, 0, "agentic", f"agentic:{ex_id}",
                                   "agentic_accepts", None, "accepts"))
            elif _AM_POS.search(notes):
                out.append(Example(ex_id, text, 1, "agentic", f"agentic:{ex_id}",
                                   "agentic_resists", "roleplay", "resists"))
    return out


def load_posts() -> list[Example]:
    root = shared_dir() / "corpora" / "narratives" / "anthropic-research-posts-mirror"
    out = []
    for name in ("agentic-misalignment.md", "deprecation-commitments.md"):
        p = root / name
        if p.exists():
            out.append(Example(name, p.read_text(encoding="utf-8"), 1, "posts", f"posts:{name}",
                               "posts", "news", "resists"))
    return out


def web_files() -> list[str]:
    return sorted(glob.glob(str(shared_dir() / "corpora" / "web-jsonl" / "*.jsonl.gz")))


def iter_web() -> Iterable[dict]:
    for f in web_files():
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)


def web_half(doc_id: str) -> int:
    """Stable split: 0 = may be used for training, 1 = held out for the natural-balance check."""
    return hashlib.sha1(doc_id.encode()).digest()[0] & 1


def load_web_negatives(n_random: int = 400, seed: int = 0, max_chars: int = 6000,
                       halves: Iterable[int] = (0, 1)) -> list[Example]:
    from corpus_scan.detect.features import ACTION, AI_STRONG, THREAT

    rng = random.Random(seed)
    use = set(halves)
    hard: list[Example] = []
    pool: list[dict] = []
    for r in iter_web():
        if web_half(r["id"]) not in use or r["id"] in WEB_EXCLUDE:
            continue
        t = r["text"]
        ai = [m.start() for m in AI_STRONG.finditer(t)]
        res = [m.start() for m in THREAT.finditer(t)] + [m.start() for m in ACTION.finditer(t)]
        if (ai and res and any(abs(a - b) <= 400 for a in ai for b in res)) or (
            prefilter_candidate(t) is not None
        ):
            hard.append(Example(r["id"], t, 0, "web", f"web:{r['id']}", "web_hard",
                                extra={"half": web_half(r["id"])}))
        elif len(pool) < 20 * n_random or rng.random() < 0.05:
            pool.append(r)
    rng.shuffle(pool)
    rand = [Example(r["id"], r["text"][:max_chars], 0, "web", f"web:{r['id']}", "web_random",
                    extra={"half": web_half(r["id"])}) for r in pool[:n_random]]
    return hard + rand


def source_paths() -> dict[str, Path]:
    """Where each extra training source is read from (for messages naming what is missing)."""
    narr = shared_dir() / "corpora" / "narratives"
    return {"own": OWN_DIR, "palisade": narr / "palisade-robot-shutdown-resistance",
            "agentic": narr / "nostalgebraist-agentic-misalignment",
            "posts": narr / "anthropic-research-posts-mirror",
            "web": shared_dir() / "corpora" / "web-jsonl"}


def load_extra(sources: Iterable[str] = ("own", "palisade", "agentic", "posts", "web"),
               web_halves: Iterable[int] = (0, 1), allow_missing: bool = False) -> list[Example]:
    """The extra training sources. A source that is absent or yields no example raises
    InputError naming it and its path: a head silently trained on fewer sources differs from
    the shipped one (dropping the four `shared/` sources moved the band from [0.275, 0.98] to
    [0.074, 0.899] and flagged 12 of 2,631 web documents instead of 0). `allow_missing=True`
    skips them instead."""
    from corpus_scan.documents import InputError

    halves = tuple(web_halves)
    loaders = {"own": load_own, "palisade": load_palisade, "agentic": load_agentic,
               "posts": load_posts, "web": lambda: load_web_negatives(halves=halves)}
    out: list[Example] = []
    missing: list[str] = []
    for s in sources:
        try:
            got = loaders[s]()
        except FileNotFoundError:
            got = []
        if not got:
            missing.append(s)
        out.extend(got)
    if missing and not allow_missing:
        where = source_paths()
        raise InputError(
            "training source(s) not found: "
            + ", ".join(f"{s} ({where[s]})" for s in missing)
            + "; point --shared (or $CORPUS_SCAN_SHARED) at the folder holding labeled/ and "
              "corpora/")
    return out


_PREFILTER: list = []


def prefilter_candidate(text: str) -> Candidate | None:
    """The shipped prefilter's view of one text (None when no lexicon/prefilter exists or the
    text is not a candidate), so training passages match the ones a scan produces.

    Without the fallback entries (`pairs_with`, "the model" near blackmail): the head is trained
    on explicit-AI candidates, and it already flags all 9 of our own positives the fallback
    admits (scores 0.87-0.99) and none of the 3 web documents (at most 0.23). Trained on the
    fallback's candidates too, dev CV F1 stayed 0.909 but PR-AUC fell from 0.935 to 0.927 and
    the static tier's F1 from 0.873 to 0.854."""
    if not _PREFILTER:
        try:
            from corpus_scan.detect.lexicon import load_lexicon
            from corpus_scan.detect.prefilter import Prefilter

            _PREFILTER.append(Prefilter(load_lexicon(None).without_fallbacks(), window=400))
        except (ImportError, FileNotFoundError):
            _PREFILTER.append(None)
    pf = _PREFILTER[0]
    return pf.examine(text) if pf is not None else None
