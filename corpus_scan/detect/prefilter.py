"""Stage 1 of the cascade: the lexicon prefilter (hyperscan, batched).

A document is a candidate when an `ai` span and a `resist` span lie within `window` characters
of each other (gap between the spans, not between their starts). An ai entry with `pairs_with`
(generic references such as "the model") is a fallback: it counts only in documents where no
other ai match pairs, and only with the resist entries it names; the gate treats it as any ai
entry (still a necessary condition) and `examine` applies the restriction.

Two passes keep per-document Python work off the hot path:
1. gate: each text is encoded to UTF-8, the batch is joined with NUL separators and scanned
   once with the `ai` patterns only (no start offsets, no excludes); the few texts with an
   ai match (~3% of web documents) are scanned again with the ai + resist patterns, and numpy
   maps match ends to documents and keeps those where an `ai` and a `resist` match end
   within bytes_per_char * (window + longest match) bytes of each other: a necessary
   condition, so the gate never drops a candidate (about 0.3% of web documents pass it);
2. spans: each gated document is scanned alone with the start-of-match database; byte offsets
   become character offsets, matches overlapping an `exclude` pattern of their entry are
   dropped, overlapping spans of one kind are merged, and the exact window test decides.

lexical_score (0..1, monotone in the evidence):
    R = sum of the weights of the DISTINCT resist entries that have an ai span within the window
    A = number of distinct ai entries paired with them
    d = n_pairs per 1,000 characters of document
    score = 1 - exp(-(R + 0.25 * min(A - 1, 4) + 0.5 * ln(1 + d)) / 3)
so one weight-1 pair in a long document scores ~0.28, "AI" near blackmail (weight 2) and
shut down in a 1,000-char text ~0.7, and several distinct resist terms approach 1.
When spans exceed max_spans, those taking part in a pair are kept first (then document order).
"""

from __future__ import annotations

import math
from pathlib import Path

import hyperscan
import numpy as np

from corpus_scan.detect.base import Candidate, Span
from corpus_scan.detect.lexicon import Lexicon, load_lexicon

_SEP = b"\x00"  # a non-word byte: \\b still holds at document edges
_SNAP = 40  # how far (chars) evidence edges move to reach whitespace
_MAX_CENTERS = 128  # co-occurrences tried when choosing the evidence window


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: one "?" byte each keeps char counts intact
        return text.encode("utf-8", "replace")


class Prefilter:
    """Batched lexicon prefilter: texts in, `Candidate`s out (only for candidate documents)."""

    def __init__(
        self, lexicon: Lexicon | str | Path | None = None, window: int = 400, max_spans: int = 64
    ) -> None:
        if window < 1 or max_spans < 1:
            raise ValueError("window and max_spans must be positive")
        self.lexicon = lexicon if isinstance(lexicon, Lexicon) else load_lexicon(lexicon)
        self.window = window
        self.max_spans = max_spans
        kinds = self.lexicon.kind_of_pattern()
        codes = {"ai": 0, "resist": 1, "exclude": 3}  # 2: other kinds (accept)
        self._kind_code = np.array([codes.get(k, 2) for k in kinds], np.int8)
        self._entry = self.lexicon.pattern_entry
        entries = self.lexicon.entries
        # the gate's view of `pairs_with` entries: their matches (code 4) pair only with the
        # resist patterns some fallback entry names
        fallback = {n for e in entries if e.pairs_with for n in e.pairs_with}
        restricted = np.array([bool(entries[i].pairs_with) for i in self._entry], bool)
        self._kind_code[restricted & (self._kind_code == 0)] = 4
        named = np.array([entries[i].name in fallback for i in self._entry], bool)
        self._fallback_resist = named & (self._kind_code == 1)  # resist patterns, not excludes
        self._weight = {(e.kind, e.name): e.weight for e in entries}
        self._pairs_with = {e.name: set(e.pairs_with) for e in entries if e.pairs_with}
        # span-merging bucket: a restricted entry's match never hides an ordinary ai match
        self._bucket = [e.kind + ("/restricted" if e.pairs_with else "") for e in entries]
        self._ai_db = self.lexicon.compile(som=False, kinds=("ai",))
        self._gate_db = self.lexicon.compile(som=False, kinds=("ai", "resist"))
        self._span_db = self.lexicon.compile(som=True)
        self._ai_scratch = hyperscan.Scratch(self._ai_db)
        self._gate_scratch = hyperscan.Scratch(self._gate_db)
        self._span_scratch = hyperscan.Scratch(self._span_db)

    @property
    def lexicon_hash(self) -> str:
        return self.lexicon.lexicon_hash

    @property
    def version(self) -> str:
        return f"lexicon-{self.lexicon_hash[:12]}-w{self.window}"

    def gate(self, texts: list[str]) -> tuple[np.ndarray, list[bytes]]:
        """Texts that may hold an ai/resist pair within the window, and every text's bytes.

        A necessary condition only, on match ends in bytes: an ai and a resist match whose
        ends lie within bytes_per_char * (window + longest match) of each other.
        """
        # Encode per text (joining str first would widen the whole batch to UCS-4 when one
        # text holds an emoji), then join bytes; the byte lengths give the document bounds.
        blobs = [_encode(t) for t in texts]
        n_bytes = np.fromiter(map(len, blobs), np.int64, len(blobs))
        # Step 1: only texts with an `ai` match can pass. The ai patterns alone scan about
        # twice as fast as the whole lexicon, and resist terms (far more frequent on the web)
        # then cost nothing outside those texts.
        ends: list[int] = []
        self._ai_db.scan(
            _SEP.join(blobs),
            match_event_handler=lambda _id, _a, to, _f, _c: ends.append(to),
            scratch=self._ai_scratch,
        )
        if not ends:
            return np.zeros(0, np.int64), blobs
        doc_end = np.cumsum(n_bytes + 1) - 1  # separator (or end of data) after each doc
        with_ai = np.unique(np.searchsorted(doc_end, np.array(ends, np.int64) - 1, "left"))
        # Step 2: the pair test on those texts only.
        sub = with_ai.tolist()
        found = self._pairs([blobs[i] for i in sub], [texts[i] for i in sub])
        return with_ai[found], blobs

    def _pairs(self, blobs: list[bytes], texts: list[str]) -> np.ndarray:
        """Positions (in `blobs`) of texts where an ai and a resist match END within
        bytes_per_char * (window + longest match) bytes of each other."""
        hits: list[int] = []
        push = hits.append

        def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            push(pid)
            push(to)

        self._gate_db.scan(
            _SEP.join(blobs), match_event_handler=on_match, scratch=self._gate_scratch
        )
        if not hits:
            return np.zeros(0, np.int64)
        n_bytes = np.fromiter(map(len, blobs), np.int64, len(blobs))
        n_chars = np.fromiter(map(len, texts), np.int64, len(texts))
        doc_end = np.cumsum(n_bytes + 1) - 1
        doc_start = doc_end - n_bytes
        reach = np.where(n_bytes == n_chars, 1, 4) * (self.window + self.lexicon.max_width)
        arr = np.array(hits, np.int64).reshape(-1, 2)
        arr = arr[np.argsort(arr[:, 1], kind="stable")]
        end, kind = arr[:, 1], self._kind_code[arr[:, 0]]
        doc = np.searchsorted(doc_end, end - 1, side="left")
        lo, hi, d = doc_start[doc], doc_end[doc], reach[doc]

        def near(is_ai: np.ndarray) -> np.ndarray:
            prev_ai = np.maximum.accumulate(np.where(is_ai, end, -(1 << 40)))
            next_ai = np.minimum.accumulate(np.where(is_ai, end, 1 << 40)[::-1])[::-1]
            before = (prev_ai >= lo) & (end - prev_ai <= d)
            return before | ((next_ai <= hi) & (next_ai - end <= d))

        paired = (kind == 1) & near(kind == 0)
        if self._pairs_with:
            paired |= self._fallback_resist[arr[:, 0]] & near(kind == 4)
        return np.unique(doc[paired])

    def candidates(self, texts: list[str]) -> list[Candidate]:
        """Candidates of a batch, in batch order; `Candidate.index` is the position in `texts`."""
        if not texts:
            return []
        gated, blobs = self.gate(texts)
        out = []
        for i in gated.tolist():
            cand = self.examine(texts[i], i, blobs[i])
            if cand is not None:
                out.append(cand)
        return out

    def spans(self, text: str, data: bytes | None = None) -> list[Span]:
        """All spans of one text (char offsets, document order, overlaps of a kind merged)."""
        data = _encode(text) if data is None else data
        raw: list[int] = []
        push = raw.extend
        self._span_db.scan(
            data,
            match_event_handler=lambda pid, a, b, _f, _c: push((a, b, pid)),
            scratch=self._span_scratch,
        )
        if not raw:
            return []
        m = np.array(raw, np.int64).reshape(-1, 3)
        if len(data) != len(text):  # non-ASCII: byte offset -> number of lead bytes before it
            lead = np.cumsum((np.frombuffer(data, np.uint8) & 0xC0) != 0x80)
            m[:, :2] = np.where(m[:, :2] > 0, lead[np.maximum(m[:, :2] - 1, 0)], 0)
        m = m[np.lexsort((-m[:, 1], m[:, 0]))]
        entries, entry_of = self.lexicon.entries, self._entry
        rows = m.tolist()
        vetoes = [(entry_of[pid], a, b) for a, b, pid in rows if self._kind_code[pid] == 3]
        spans: list[Span] = []
        last_end: dict[str, int] = {}
        bucket = self._bucket
        for a, b, pid in rows:
            i = entry_of[pid]
            if self._kind_code[pid] == 3 or a < last_end.get(bucket[i], -1):
                continue  # an exclude match, or overlaps a kept span of the same kind
            if vetoes and any(j == i and va < b and a < vb for j, va, vb in vetoes):
                continue
            last_end[bucket[i]] = b
            spans.append(Span(entries[i].kind, entries[i].name, a, b))
        return spans

    def examine(self, text: str, index: int = 0, data: bytes | None = None) -> Candidate | None:
        """Full check of one document; None when no ai/resist pair lies within the window."""
        spans = self.spans(text, data)
        rs = [s for s in spans if s.kind == "resist"]
        if self._pairs_with:
            spans = self._restrict(spans, rs)
        ai = [s for s in spans if s.kind == "ai"]
        if not ai or not rs:
            return None
        r_near = _near_counts(rs, ai, self.window)
        n_pairs = int(r_near.sum())
        if n_pairs == 0:
            return None
        a_start = np.array([s.start for s in ai], np.int64)
        paired = [rs[j] for j in np.flatnonzero(r_near).tolist()]
        a_terms = {self._nearest(ai, a_start, r).term for r in paired[:_MAX_CENTERS]}
        r_weight = sum(self._weight["resist", t] for t in {r.term for r in paired})
        density = n_pairs * 1000 / max(len(text), 1)
        x = r_weight + 0.25 * min(len(a_terms) - 1, 4) + 0.5 * math.log1p(density)
        ev_start, ev_end = self._evidence(text, spans, ai, a_start, paired)
        if len(spans) > self.max_spans:  # keep spans that take part in a pair first
            a_near = _near_counts(ai, rs, self.window)
            keep = {id(s) for s in paired} | {id(a) for a, n in zip(ai, a_near, strict=True) if n}
            order = sorted(range(len(spans)), key=lambda i: id(spans[i]) not in keep)
            spans = [spans[i] for i in sorted(order[: self.max_spans])]
        return Candidate(
            index=index,
            spans=spans,
            n_pairs=n_pairs,
            lexical_score=round(1.0 - math.exp(-x / 3), 4),
            evidence=text[ev_start:ev_end],
            evidence_start=ev_start,
        )

    def _restrict(self, spans: list[Span], rs: list[Span]) -> list[Span]:
        """Matches of `pairs_with` entries are a fallback: dropped when an ordinary ai match
        pairs (a document with an explicit AI term keeps the spans, evidence and score it had
        without them), else kept only where one of their resist entries lies within the window
        and no ordinary ai match overlaps them."""
        restricted = self._pairs_with
        plain = [s for s in spans if s.kind == "ai" and s.term not in restricted]
        if plain and rs and _near_counts(rs, plain, self.window).any():
            return [s for s in spans if s.kind != "ai" or s.term not in restricted]
        keep = []
        for s in spans:
            allowed = restricted.get(s.term) if s.kind == "ai" else None
            if allowed is not None:
                if any(p.start < s.end and s.start < p.end for p in plain):
                    continue
                near = [r for r in rs if r.term in allowed]
                if not near or not _near_counts([s], near, self.window)[0]:
                    continue
            keep.append(s)
        return keep

    def _nearest(self, ai: list[Span], a_start: np.ndarray, r: Span) -> Span:
        k = int(np.searchsorted(a_start, r.start))
        options = [ai[i] for i in (k - 1, k) if 0 <= i < len(ai)]
        return min(options, key=lambda a: max(a.start - r.end, r.start - a.end, 0))

    def _evidence(
        self, text: str, spans: list[Span], ai: list[Span], a_start: np.ndarray, paired: list[Span]
    ) -> tuple[int, int]:
        """The window around the co-occurrence with the most distinct resist terms nearby."""
        half = self.window // 2
        starts = np.array([s.start for s in spans], np.int64)
        best, best_val = (0, 0), -1.0
        for r in paired[:_MAX_CENTERS]:
            a = self._nearest(ai, a_start, r)
            lo, hi = min(a.start, r.start), max(a.end, r.end)
            i0, i1 = np.searchsorted(starts, [(lo + hi) // 2 - half, (lo + hi) // 2 + half])
            near = spans[i0:i1]
            r_terms = {s.term for s in near if s.kind == "resist"}
            val = sum(self._weight["resist", t] for t in r_terms)
            val += 0.1 * len({s.term for s in near})
            if val > best_val:
                best, best_val = (lo, hi), val
        lo, hi = best
        pad = max(0, self.window - (hi - lo)) // 2
        return _snap(text, max(0, lo - pad), min(len(text), hi + pad))


def _near_counts(these: list[Span], others: list[Span], w: int) -> np.ndarray:
    """For each span of `these`, how many spans of `others` lie within w characters of it.

    others are in start order; o is near t when o.start <= t.end + w and o.end >= t.start - w,
    and every o with o.end < t.start - w also has o.start <= t.end + w, hence the difference.
    """
    o_start = np.array([s.start for s in others], np.int64)
    o_end = np.sort(np.array([s.end for s in others], np.int64))
    t_start = np.array([s.start for s in these], np.int64)
    t_end = np.array([s.end for s in these], np.int64)
    return np.searchsorted(o_start, t_end + w, "right") - np.searchsorted(o_end, t_start - w)


def _snap(text: str, start: int, end: int) -> tuple[int, int]:
    """Move start back / end forward (at most _SNAP chars) to whitespace, if any is that close."""
    k = start
    while k > 0 and start - k < _SNAP and not text[k - 1].isspace():
        k -= 1
    if k == 0 or text[k - 1].isspace():
        start = k
    k = end
    while k < len(text) and k - end < _SNAP and not text[k].isspace():
        k += 1
    if k == len(text) or text[k].isspace():
        end = k
    return start, end
