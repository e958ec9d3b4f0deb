"""Sentence-aligned windows around a candidate's AI x resistance co-occurrences.

Cheap regex sentence boundaries (no spaCy on the hot path), computed only in a region around
the anchors. Windows grow sentence by sentence up to `max_chars` (~1,000 chars, about 256
MiniLM tokens), overlapping windows merge while they fit, and at most `max_passages` windows
are kept per document, the ones with the most co-occurrences first (returned in text order).
"""

from __future__ import annotations

import re

from corpus_scan.detect.base import Candidate, Passage, Span
from corpus_scan.detect.features import find_spans

MAX_CHARS = 1000
MAX_PASSAGES = 4
PAIR_WINDOW = 400
SHORT_DOC = 2500  # chars; below this, lone resistance terms also anchor windows
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n\s*\n|\n(?=\s*[-*•#\d])|(?<=[:;])\n")
_RESIST_KINDS = {"resist", "threat", "action"}


def sentence_bounds(text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of sentences covering text[lo:hi] (a line break or .!? ends one)."""
    hi = len(text) if hi is None else min(hi, len(text))
    out: list[tuple[int, int]] = []
    start = lo
    for m in _BOUNDARY.finditer(text, lo, hi):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if start < hi:
        out.append((start, hi))
    return out


def _anchors(spans: list[Span], window: int) -> list[tuple[int, int]]:
    ai = [s for s in spans if s.kind == "ai"]
    res = [s for s in spans if s.kind in _RESIST_KINDS]
    out: list[tuple[int, int]] = []
    for r in res:
        near = [a for a in ai if abs(a.start - r.start) <= window]
        if near:
            a = min(near, key=lambda a: abs(a.start - r.start))
            out.append((min(a.start, r.start), max(a.end, r.end)))
    return out


def _clusters(anchors: list[tuple[int, int]], span: int) -> list[tuple[int, int, int]]:
    """Greedy left-to-right grouping of anchors into (start, end, weight) within `span` chars."""
    out: list[tuple[int, int, int]] = []
    for s, e in sorted(anchors):
        if out and max(e, out[-1][1]) - out[-1][0] <= span:
            cs, ce, w = out[-1]
            out[-1] = (cs, max(ce, e), w + 1)
        else:
            out.append((s, e, 1))
    return out


def _grow(text: str, s: int, e: int, max_chars: int) -> tuple[int, int]:
    """Expand [s, e) to whole sentences, then add neighbours alternately while they fit."""
    if e - s >= max_chars:
        mid = (s + e) // 2
        s, e = max(0, mid - max_chars // 2), min(len(text), mid + max_chars // 2)
        return s, e
    margin = max_chars + 200
    sents = sentence_bounds(text, max(0, s - margin), min(len(text), e + margin))
    if not sents:
        return s, e
    idx = [i for i, (a, b) in enumerate(sents) if b > s and a < e] or [0]
    i, j = idx[0], idx[-1]
    ws, we = min(sents[i][0], s), max(sents[j][1], e)
    if we - ws > max_chars:  # a single overlong sentence: centre a hard cut on the anchor
        mid = (s + e) // 2
        return max(0, mid - max_chars // 2), min(len(text), mid + max_chars // 2)
    grew = True
    while grew:
        grew = False
        if j + 1 < len(sents) and sents[j + 1][1] - ws <= max_chars:
            j += 1
            we = sents[j][1]
            grew = True
        if i > 0 and we - sents[i - 1][0] <= max_chars:
            i -= 1
            ws = sents[i][0]
            grew = True
    return ws, we


def passage_bounds(
    text: str,
    spans: list[Span],
    *,
    max_chars: int = MAX_CHARS,
    max_passages: int = MAX_PASSAGES,
    window: int = PAIR_WINDOW,
    fallback: tuple[int, int] | None = None,
) -> list[tuple[int, int]]:
    """Window offsets for one document, in text order."""
    if not _anchors(spans, window):
        spans = spans + find_spans(text)
    anchors = _anchors(spans, window)
    # secondary anchors: lone resistance terms, so short documents (excerpt-sized) are covered
    # beyond the pair; long documents keep only windows that hold an AI x resistance pair
    lone = [(s.start, s.end) for s in spans if s.kind in _RESIST_KINDS]
    if anchors and len(text) > SHORT_DOC:
        lone = []
    if not anchors and not lone:
        lone = [fallback] if fallback else [(0, min(len(text), max_chars))]
    primary = [(s, e, w + 10_000) for s, e, w in _clusters(anchors, max_chars // 2)]
    secondary = _clusters(lone, max_chars // 2)
    clusters = sorted(primary + secondary, key=lambda c: (-c[2], c[0]))
    windows: list[tuple[int, int]] = []
    for cs, ce, _w in clusters:
        if len(windows) >= max_passages:
            break
        if any(ws <= cs and ce <= we for ws, we in windows):
            continue
        ws, we = _grow(text, cs, ce, max_chars)
        for k, (os_, oe) in enumerate(windows):
            if ws < oe and os_ < we:  # overlap: merge when the union fits, else trim
                if max(we, oe) - min(ws, os_) <= max_chars:
                    windows[k] = (min(ws, os_), max(we, oe))
                    ws = we = -1
                elif ws < os_:
                    we = os_
                else:
                    ws = oe
                break
        if ws >= 0 and we - ws > 20:
            windows.append((ws, we))
    out: list[tuple[int, int]] = []
    for ws, we in sorted(windows):  # merging can create new overlaps: resolve them in order
        if out and ws < out[-1][1]:
            if max(we, out[-1][1]) - out[-1][0] <= max_chars:
                out[-1] = (out[-1][0], max(we, out[-1][1]))
                continue
            ws = out[-1][1]
        if we - ws > 20:
            out.append((ws, we))
    return out


def make_passages(
    text: str,
    candidate: Candidate | None = None,
    *,
    max_chars: int = MAX_CHARS,
    max_passages: int = MAX_PASSAGES,
) -> list[Passage]:
    """Passages of one candidate document (spans from the prefilter, else found here)."""
    spans = candidate.spans if candidate is not None else []
    fallback = None
    if candidate is not None and candidate.evidence:
        fallback = (
            candidate.evidence_start,
            min(len(text), candidate.evidence_start + len(candidate.evidence)),
        )
    bounds = passage_bounds(
        text, spans, max_chars=max_chars, max_passages=max_passages, fallback=fallback
    )
    out: list[Passage] = []
    for s, e in bounds:
        chunk = text[s:e]
        lead = len(chunk) - len(chunk.lstrip())
        chunk = chunk.strip()
        if chunk:
            out.append(Passage(start=s + lead, end=s + lead + len(chunk), text=chunk))
    if not out and text.strip():
        chunk = text[:max_chars]
        out.append(Passage(start=0, end=len(chunk), text=chunk))
    return out
