"""Throughput of the lexicon prefilter against `zcat | rg` on gzip JSONL shards (figures only).

    .venv/bin/python benchmarks/lexical_throughput.py [FILES...] [--repeat N] [--trials K]

Default FILES: ../shared/corpora/web-jsonl/*.jsonl.gz relative to the repository root. In one
run it measures, each on the same (optionally N-times replicated) input, best of K trials:
  (a) `zcat FILES | rg -c -i -F -f TERMS`: TERMS is a flat list of literal terms (prefixes of
      the lexicon's patterns), so rg counts lines (= documents) holding ANY term;
  (b) parse only: isal.igzip + orjson, text field extracted;
  (c) parse + Prefilter.candidates on batches, one process.
MB/s are of uncompressed JSONL bytes. No assertions.
"""

from __future__ import annotations

import argparse
import os
import re._constants as sre_c
import re._parser as sre_parse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import isal.igzip
import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from corpus_scan.detect.lexicon import Lexicon  # noqa: E402
from corpus_scan.detect.prefilter import Prefilter  # noqa: E402

MAX_EXPANSIONS = 64


def _expand(tree: object) -> tuple[list[str], bool]:
    """Literal strings a parsed pattern starts with; the flag says the expansion was cut."""
    acc = [""]
    for op, av in tree:  # type: ignore[attr-defined]
        if op == sre_c.LITERAL:
            alts, cut = [chr(av)], False
        elif op == sre_c.AT:
            continue
        elif op == sre_c.SUBPATTERN:
            alts, cut = _expand(av[-1])
        elif op == sre_c.BRANCH:
            parts = [_expand(b) for b in av[1]]
            alts, cut = [s for p, _ in parts for s in p], any(c for _, c in parts)
        elif op == sre_c.IN and all(o == sre_c.LITERAL for o, _ in av) and len(av) <= 4:
            alts, cut = [chr(v) for _, v in av], False
        elif op == sre_c.MAX_REPEAT and av[0] == 0 and av[1] == 1:
            sub, cut = _expand(av[2])
            alts = ["", *sub]
        elif op == sre_c.MAX_REPEAT and av[0] >= 1:
            alts, _ = _expand(av[2])
            cut = True
        else:
            return acc, True
        if len(acc) * len(alts) > MAX_EXPANSIONS:
            return acc, True
        acc = [a + b for a in acc for b in alts]
        if cut:
            return acc, True
    return acc, False


def flat_terms(lexicon: Lexicon) -> list[str]:
    """Literal terms (or literal prefixes, at least 2 chars) of every ai/resist pattern,
    lowercased, without terms that contain another term. `pairs_with` fallback entries ("the
    model") are left out: the rg ceiling counts lines with an explicit AI or resist term."""
    terms: set[str] = set()
    for e in lexicon.without_fallbacks().entries:
        if e.kind in ("ai", "resist"):
            for p in e.patterns:
                strings, cut = _expand(sre_parse.parse(p))
                shortest = 4 if cut else 2  # a cut prefix like "can" would match everything
                terms.update(s.strip().lower() for s in strings if len(s.strip()) >= shortest)
    # rg -F -i matches substrings: a term containing a shorter kept term adds nothing.
    kept: list[str] = []
    for t in sorted(terms, key=len):
        if not any(k in t for k in kept):
            kept.append(t)
    return sorted(kept)


def iter_texts(files: list[Path]) -> Iterator[tuple[str, int]]:
    for f in files:
        with isal.igzip.open(f, "rb") as fh:
            for line in fh:
                rec = orjson.loads(line)
                text = rec.get("text") if isinstance(rec, dict) else None
                yield (text if isinstance(text, str) else ""), len(line)


def run_rg(files: list[Path], terms_file: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    zcat = subprocess.Popen(["zcat", *map(str, files)], stdout=subprocess.PIPE)
    rg = subprocess.run(
        ["rg", "-c", "-i", "-F", "-f", terms_file], stdin=zcat.stdout, capture_output=True
    )
    zcat.stdout.close()  # type: ignore[union-attr]
    zcat.wait()
    dt = time.perf_counter() - t0
    return dt, int(rg.stdout.strip() or 0)


def run_parse(files: list[Path]) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    docs = nbytes = 0
    for _, n in iter_texts(files):
        docs += 1
        nbytes += n
    return time.perf_counter() - t0, docs, nbytes


def run_prefilter(files: list[Path], pf: Prefilter, batch: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    n_cand = 0
    texts: list[str] = []
    for text, _ in iter_texts(files):
        texts.append(text)
        if len(texts) == batch:
            n_cand += len(pf.candidates(texts))
            texts = []
    n_cand += len(pf.candidates(texts))
    return time.perf_counter() - t0, n_cand


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="*.jsonl.gz files (field 'text')")
    ap.add_argument("--repeat", type=int, default=1, help="read the files N times (default 1)")
    ap.add_argument("--trials", type=int, default=3, help="best of K timings (default 3)")
    ap.add_argument("--batch", type=int, default=2048, help="documents per candidates() call")
    ap.add_argument("--window", type=int, default=400)
    ap.add_argument("--lexicon", type=Path, default=None, help="lexicon dir (default: repo's)")
    args = ap.parse_args()

    files = args.files or sorted((REPO.parent / "shared/corpora/web-jsonl").glob("*.jsonl.gz"))
    if not files:
        sys.exit("no input: pass *.jsonl.gz files (default ../shared/corpora/web-jsonl absent)")
    files = files * max(1, args.repeat)
    t0 = time.perf_counter()
    pf = Prefilter(Lexicon.load(args.lexicon), window=args.window)
    t_compile = time.perf_counter() - t0
    terms = flat_terms(pf.lexicon)
    print(
        f"input: {len(files) // max(1, args.repeat)} files x{args.repeat}; lexicon "
        f"{pf.lexicon_hash[:12]}: {len(pf.lexicon.entries)} entries, "
        f"{len(pf.lexicon.pattern_entry)} patterns (compile {t_compile:.2f}s), "
        f"{len(terms)} flat terms for rg; window {args.window}; CPUs {os.cpu_count()}"
    )

    t_parse, docs, nbytes = min(run_parse(files) for _ in range(args.trials))
    t_pf, n_cand = min(run_prefilter(files, pf, args.batch) for _ in range(args.trials))
    mb = nbytes / 1e6
    rows = []
    rg_rate = None
    if shutil.which("rg") and shutil.which("zcat"):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tf:
            tf.write("\n".join(terms) + "\n")
        try:
            t_rg, rg_docs = min(run_rg(files, tf.name) for _ in range(args.trials))
        finally:
            os.unlink(tf.name)
        rg_rate = mb / t_rg
        rows.append(("(a) zcat | rg -c -i -F -f TERMS", t_rg, f"{rg_docs} docs with any term"))
    else:
        print(
            "note: `rg` (ripgrep) or `zcat` not found; install with `apt-get install ripgrep`. "
            "Skipping (a)."
        )
    rows.append(("(b) parse only (isal + orjson)", t_parse, f"{docs} docs"))
    rows.append(
        (
            "(c) parse + Prefilter.candidates",
            t_pf,
            f"{n_cand} candidates = {100 * n_cand / max(docs, 1):.2f}%",
        )
    )
    print(
        f"\n{mb:.1f} MB uncompressed, {docs} documents, batch {args.batch}, best of {args.trials}\n"
    )
    print(f"{'stage':36s} {'seconds':>8s} {'MB/s':>8s} {'docs/s':>10s}  result")
    for name, t, note in rows:
        print(f"{name:36s} {t:8.2f} {mb / t:8.1f} {docs / t:10.0f}  {note}")
    t_only = max(t_pf - t_parse, 1e-9)
    print(f"\nprefilter alone (c - b): {mb / t_only:.1f} MB/s, {docs / t_only:.0f} docs/s")
    if rg_rate:
        print(f"ratio prefilter (c) / rg (a): {mb / t_pf / rg_rate:.2f}")


if __name__ == "__main__":
    main()
