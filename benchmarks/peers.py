"""The reference points of benchmarks/speed.py, each runnable on its own (speed.py runs them as
subprocesses so that wall time and peak memory are measured the same way for every row).

    python benchmarks/peers.py parse FILES...                      isal + orjson, parse only
    python benchmarks/peers.py prefilter [--procs N] FILES...      + corpus-scan's Prefilter
    python benchmarks/peers.py datatrove --filter re|hyperscan [--workers N] [--limit DOCS]
        [--out DIR] FILES...

`datatrove`: JsonlReader -> a filter implementing the lexicon co-occurrence rule -> JsonlWriter
(gzip), LocalPipelineExecutor with one task per file and N workers. The rule: a document is
kept when a match of an `ai` pattern and a match of a `resist` pattern of corpus-scan's lexicon
lie within WINDOW (400) characters of each other (gap between the matches). Patterns are the
lexicon's own, word-bounded as corpus-scan compiles them (`\\b(?:...)\\b`, spaces widened,
caseless unless the entry is case-sensitive); `exclude` patterns are not applied (they veto
few matches). Two implementations:
  re         Python `re`: one `\\b(?:alt|...)\\b` per kind (ASCII word boundaries), finditer;
             ai first, resist only when an ai term was found;
  hyperscan  one hyperscan block database (start-of-match offsets) scanned per document on
             its UTF-8 bytes; window tested on byte offsets.
Each command prints one JSON line: {"docs": ..., "bytes": ..., "kept": ...}.
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WINDOW = 400


def _iter_lines(files: list[str]):
    import isal.igzip

    for f in files:
        with isal.igzip.open(f, "rb") as fh:
            yield from fh


def cmd_parse(files: list[str]) -> dict:
    import orjson

    docs = nbytes = 0
    for line in _iter_lines(files):
        rec = orjson.loads(line)
        text = rec.get("text") if isinstance(rec, dict) else None
        docs += isinstance(text, str)
        nbytes += len(line)
    return {"docs": docs, "bytes": nbytes, "kept": None}


def _prefilter_files(files: list[str]) -> tuple[int, int, int]:
    import orjson

    from corpus_scan.detect.prefilter import Prefilter

    pf = Prefilter(window=WINDOW)
    docs = nbytes = kept = 0
    texts: list[str] = []
    for line in _iter_lines(files):
        rec = orjson.loads(line)
        text = rec.get("text") if isinstance(rec, dict) else None
        texts.append(text if isinstance(text, str) else "")
        nbytes += len(line)
        if len(texts) == 2048:
            kept += len(pf.candidates(texts))
            docs += len(texts)
            texts = []
    kept += len(pf.candidates(texts))
    docs += len(texts)
    return docs, nbytes, kept


def cmd_prefilter(files: list[str], procs: int) -> dict:
    if procs <= 1:
        docs, nbytes, kept = _prefilter_files(files)
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(procs) as pool:
            parts = list(pool.map(_prefilter_files, [[f] for f in files]))
        docs, nbytes, kept = (sum(p[k] for p in parts) for k in range(3))
    return {"docs": docs, "bytes": nbytes, "kept": kept}


# --- datatrove ------------------------------------------------------------------------------


def _kind_patterns(kind: str) -> list[tuple[str, bool]]:
    """(pattern with spaces widened as corpus-scan does, case_sensitive) for every `kind`
    pattern of the shipped lexicon (exclude patterns left out). The plain co-occurrence rule:
    the `pairs_with` fallback ("the model" near blackmail) is left out, which spares the peer
    work (and corpus-scan's ratio) rather than adding to it."""
    from corpus_scan.detect.lexicon import load_lexicon, widen_spaces

    return [
        (widen_spaces(p), e.case_sensitive)
        for e in load_lexicon().without_fallbacks().entries
        if e.kind == kind
        for p in e.patterns
    ]


def hyperscan_database():
    """One block-mode hyperscan database (start-of-match offsets) over the ai and resist
    patterns, and the kind (0 ai, 1 resist) of each pattern id."""
    import hyperscan

    from corpus_scan.detect.lexicon import hyperscan_syntax

    exprs, flags, kinds = [], [], []
    for k, kind in enumerate(("ai", "resist")):
        for p, cs in _kind_patterns(kind):
            # the lexicon's patterns are written for Python's re (\uXXXX): hyperscan spells it
            exprs.append(hyperscan_syntax(r"\b(?:" + p + r")\b").encode())
            f = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST
            flags.append(f if cs else f | hyperscan.HS_FLAG_CASELESS)
            kinds.append(k)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), flags=flags)
    return db, kinds


def _near(ai: list[tuple[int, int]], rs: list[tuple[int, int]], window: int) -> bool:
    """Some ai span and some resist span with a gap of at most `window` (ai sorted by start)."""
    starts = [a for a, _ in ai]
    reach, top = [], -1  # reach[i]: the furthest end among ai[0..i]
    for _, a1 in ai:
        top = max(top, a1)
        reach.append(top)
    for r0, r1 in rs:
        k = bisect.bisect_left(starts, r0)  # ai[:k] start before r0, ai[k:] at or after it
        if (k > 0 and reach[k - 1] >= r0 - window) or (k < len(ai) and starts[k] <= r1 + window):
            return True
    return False


def _make_filters():
    from datatrove.pipeline.filters.base_filter import BaseFilter

    class ReLexiconFilter(BaseFilter):
        name = "lexicon co-occurrence (re)"

        def __init__(self, window: int = WINDOW):
            super().__init__()
            self.window = window

            def alternation(kind: str) -> re.Pattern:
                # one \b(?:...)\b around the whole alternation: 2-3x faster in `re` than
                # one word-bounded group per pattern, same matches
                parts = [p if cs else f"(?i:{p})" for p, cs in _kind_patterns(kind)]
                return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.ASCII)

            self.ai_re = alternation("ai")
            self.resist_re = alternation("resist")

        def filter(self, doc) -> bool:
            text = doc.text
            ai = [m.span() for m in self.ai_re.finditer(text)]  # the cheaper, rarer kind first
            if not ai:
                return False
            rs = [m.span() for m in self.resist_re.finditer(text)]
            return bool(rs) and _near(ai, rs, self.window)

    class HyperscanLexiconFilter(BaseFilter):
        name = "lexicon co-occurrence (hyperscan)"

        def __init__(self, window: int = WINDOW):
            super().__init__()
            self.window = window
            self._db = None  # compiled in the worker: hyperscan objects do not pickle

        def _compile(self) -> None:
            import hyperscan

            self._db, self._kinds = hyperscan_database()
            self._scratch = hyperscan.Scratch(self._db)

        def filter(self, doc) -> bool:
            if self._db is None:
                self._compile()
            spans: tuple[list, list] = ([], [])
            kinds = self._kinds

            def on_match(pid, start, end, _flags, _ctx):
                spans[kinds[pid]].append((start, end))

            self._db.scan(
                doc.text.encode("utf-8", "replace"),
                match_event_handler=on_match,
                scratch=self._scratch,
            )
            ai, rs = spans
            if not ai or not rs:
                return False
            ai.sort()
            rs.sort()
            return _near(ai, rs, self.window)

    return ReLexiconFilter, HyperscanLexiconFilter


def cmd_datatrove(files: list[str], which: str, workers: int, out: str, limit: int = -1) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    re_filter, hs_filter = _make_filters()
    paths = [Path(f).resolve() for f in files]
    folder = paths[0].parent
    if any(p.parent != folder for p in paths):
        raise SystemExit("datatrove peer: all files must be in one folder")
    work = Path(out)
    work.mkdir(parents=True, exist_ok=True)
    paths_file = work / "paths.txt"
    paths_file.write_text("".join(p.name + "\n" for p in paths))
    filt = re_filter() if which == "re" else hs_filter()
    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(
                str(folder),
                paths_file=str(paths_file),
                limit=limit,
                text_key="text",
                id_key="id",
            ),
            filt,
            JsonlWriter(str(work / "kept")),
        ],
        tasks=len(paths),
        workers=workers,
        logging_dir=str(work / "logs"),
    )
    executor.run()
    kept = 0
    import gzip

    for f in (work / "kept").glob("*.jsonl.gz"):
        with gzip.open(f, "rb") as fh:
            kept += sum(1 for _ in fh)
    return {"docs": None, "bytes": None, "kept": kept}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parse")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("prefilter")
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("files", nargs="+")
    p = sub.add_parser("datatrove")
    p.add_argument("--filter", choices=("re", "hyperscan"), required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=None, help="work folder (default: a temp dir)")
    p.add_argument("--limit", type=int, default=-1, help="documents per file (default: all)")
    p.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.cmd == "parse":
        res = cmd_parse(args.files)
    elif args.cmd == "prefilter":
        res = cmd_prefilter(args.files, args.procs)
    else:
        with tempfile.TemporaryDirectory(prefix="dt") as tmp:
            res = cmd_datatrove(args.files, args.filter, args.workers, args.out or tmp, args.limit)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
