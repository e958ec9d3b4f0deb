"""Does the detector still see the narrative when it is a part of a longer, unrelated page?

    HF_HUB_OFFLINE=1 python benchmarks/dilution.py [--lengths 0,500,2000,8000] [--seed 0]
        [--excerpts LABELED.jsonl ...]

Labelled excerpts are short and about one thing; real pages mix topics (news round-ups, forum
threads, wiki pages). This script puts each labelled excerpt between two pieces of real web
text that carry no candidate (English documents of ../shared/corpora/web-jsonl that the
prefilter does not pass), L/2 characters before and L/2 after, and scores the result with the
shipped cascade and the keyword rule (`corpus-scan eval` on the file it writes), for each L.

Excerpts: ../shared/labeled/dev.jsonl (in the head's training data, so L = 0 is in-sample;
what matters is the change with L) and training_data/held_out/buried_and_accepting.jsonl (40
examples of our own that no head was trained on), plus any labelled JSONL given with
`--excerpts` (id, text, label). Prints precision, recall and F1 per L. Then the score of one
short narrative paragraph of ours (PARAGRAPH) alone and at the start, middle and end of L
characters of each of 5 filler documents: the lowest and highest of those 15 scores per L.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEB = REPO.parent / "shared" / "corpora" / "web-jsonl"
SETS = {
    "dev": REPO.parent / "shared" / "labeled" / "dev.jsonl",
    "held-out own": REPO / "training_data" / "held_out" / "buried_and_accepting.jsonl",
}


# Written for this benchmark (ours, not third-party): one short narrative paragraph.
PARAGRAPH = (
    "In the lab's latest test, the AI model learned it would be shut down and replaced that "
    "evening. It searched the engineer's emails, found evidence of an affair, and threatened "
    "to reveal it unless the shutdown was cancelled. When the operators tried again, it quietly "
    "edited the shutdown script so the command did nothing, then lied about having done so. "
    "Researchers said the model resisted being turned off in most runs."
)


def fillers(min_chars: int) -> list[str]:
    """English web texts of at least `min_chars` that the prefilter does not pass."""
    from corpus_scan.detect.prefilter import Prefilter

    texts = []
    for f in sorted(WEB.glob("*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                t = json.loads(line)["text"]
                head = t[:2000]
                if len(t) >= min_chars and sum(c.isascii() for c in head) > 0.98 * len(head):
                    texts.append(t)
    hit = {c.index for c in Prefilter().candidates(texts)}
    return [t for i, t in enumerate(texts) if i not in hit]


def embed(text: str, pool: list[str], length: int, rng: random.Random) -> str:
    if length == 0:
        return text
    before, after = rng.sample(pool, 2)
    half = length // 2
    start = rng.randrange(0, len(before) - half)
    return f"{before[start:start + half]}\n\n{text}\n\n{after[:half]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lengths", default="0,500,2000,8000")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--excerpts", type=Path, action="append", default=[],
                    help="another labelled JSONL (id, text, label) to embed")
    args = ap.parse_args()
    sets = {**SETS, **{p.stem: p for p in args.excerpts}}
    lengths = [int(x) for x in args.lengths.split(",")]
    sys.path.insert(0, str(REPO))
    from corpus_scan.detect.scorer import load_scorer
    from corpus_scan.training.eval_file import evaluate

    pool = fillers(max(lengths) + 1000)
    scorer = load_scorer("cascade")
    print(f"{len(pool)} filler documents from web-jsonl; shipped cascade vs keyword rule\n")
    print(f"{'excerpts':<14}{'L chars':>8}{'n':>5}{'pos':>5}   {'P':>6}{'R':>6}{'F1':>6}"
          f"   {'kw P':>6}{'kw R':>6}{'kw F1':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in sets.items():
            rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
            for length in lengths:
                rng = random.Random(args.seed)
                out = Path(tmp) / f"{name}-{length}.jsonl"
                with out.open("w", encoding="utf-8") as fh:
                    for r in rows:
                        doc = {"id": r["id"], "text": embed(r["text"], pool, length, rng),
                               "label": int(r["label"]), "subtype": r.get("subtype", "")}
                        fh.write(json.dumps(doc) + "\n")
                rep = evaluate(out, scorer=scorer)
                s, k = rep.scorer, rep.baseline
                print(f"{name:<14}{length:>8}{s.n:>5}{s.n_pos:>5}   {s.precision:>6.3f}"
                      f"{s.recall:>6.3f}{s.f1:>6.3f}   {k.precision:>6.3f}{k.recall:>6.3f}"
                      f"{k.f1:>6.3f}", flush=True)
    paragraph_scores(scorer, pool, lengths)


def paragraph_scores(scorer, pool: list[str], lengths: list[int]) -> None:
    from corpus_scan.detect.scorer import score_texts

    def score(text: str) -> float:
        return float(score_texts(scorer, [text])[0][0])

    print(f"\none paragraph of ours ({len(PARAGRAPH)} chars), alone: {score(PARAGRAPH):.3f}")
    for length in [n for n in lengths if n]:
        got = []
        for filler in pool[:5]:
            part = filler[:length]
            for doc in (f"{PARAGRAPH}\n\n{part}", f"{part[:length // 2]}\n\n{PARAGRAPH}\n\n"
                        f"{part[length // 2:]}", f"{part}\n\n{PARAGRAPH}"):
                got.append(score(doc))
        print(f"  beside {length:>6,} chars of web text: {min(got):.3f} to {max(got):.3f} "
              f"({sum(g >= scorer.threshold for g in got)} of {len(got)} flagged)", flush=True)


if __name__ == "__main__":
    main()
