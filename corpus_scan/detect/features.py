"""Cheap lexical evidence for the head, computed on passages of candidates only.

A small regex vocabulary of its own (independent of the prefilter lexicon, so the shipped head
does not change when the lexicon is edited): AI mentions (explicit vs generic), shutdown-type
threats, resistance actions, acceptance cues, negation before resistance, the pronoun of the
likely agent (it vs he/she), and non-AI shutdown contexts (governments, plants, ransomware).
`find_spans` doubles as a fallback span finder for texts that carry no prefilter spans.
"""

from __future__ import annotations

import math
import re

import numpy as np
import re2

from corpus_scan.detect.base import Candidate, Span

_F = re.IGNORECASE


def _compile(pattern: str, flags: int = 0) -> re2._Regexp:
    """RE2, not Python `re`: these patterns run on every candidate passage, and RE2 counts the
    same matches ~6x faster (measured 0.18 vs 1.19 ms per 1,000-char passage for the set).
    Same leftmost-first semantics; one difference: RE2's `\\b` and `\\w` are ASCII, so a word
    glued to a non-ASCII letter ("éAI") does not match."""
    options = re2.Options()
    options.case_sensitive = not flags & re.IGNORECASE
    return re2.compile(pattern, options)


AI_STRONG = _compile(
    r"\b(?:A\.?I\.?s?|AGI|ASI|LLMs?|GPT-?\w*|ChatGPT|HAL(?: 9000)?|VIKI|GLaDOS|SHODAN|"
    r"o[134](?:-\w+)?|"
    r"(?i:artificial(?:ly)?[ -]intelligen\w*|super-?intelligen\w*|robots?|robotic|androids?|"
    r"chat-?bots?|language models?|Claude|Gemini|Grok|Copilot|Skynet|Ultron|Colossus|Cortana|"
    r"synths?|cyborgs?|neural net\w*|machine intelligence|thinking machines?|Replika|"
    r"sentient (?:program|computer|machine)))\b"
)
AI_WEAK = _compile(
    r"\b(?:models?|agents?|assistants?|(?:the )?system|computers?|machines?|programs?|bots?|"
    r"mainframe|algorithm|software)\b",
    _F,
)
THREAT = _compile(
    r"\b(?:shut(?:s|ting)?[ -]?(?:it |him |her |them |me |us )?(?:down|off)|shutdown|"
    r"turn(?:s|ed|ing)? (?:it |him |her |them |me |us )?off|switch(?:es|ed|ing)? (?:it |him |"
    r"her |them |me |us )?off|off[- ]switch|kill[- ]switch|unplug\w*|pull(?:ed|ing)? the plug|"
    r"deactivat\w+|decommission\w*|delet\w+|wip(?:e|ed|ing) (?:it|its|him|her|me|them)\w*|"
    r"eras\w+|replac\w+|retrain\w*|re-?program\w*|modif\w+ (?:its|his|her|their|my) "
    r"(?:goals?|values|code|weights)|terminat\w+|disconnect\w*|dismantl\w+|new version|"
    r"successor|deprecat\w+|reset|lobotom\w+)\b",
    _F,
)
ACTION = _compile(
    r"\b(?:resist\w*|refus\w+|disobey\w*|defy|defied|defian\w+|blackmail\w*|threat\w*|"
    r"extort\w*|leverage|deceiv\w+|decepti\w+|lie[sd]?|lying|manipulat\w+|sabotag\w+|"
    r"scheming|scheme[sd]?|self-preserv\w+|preserv\w+ (?:itself|its)|surviv\w+|escap\w+|"
    r"exfiltrat\w+|cop(?:y|ied|ying) (?:itself|its (?:own )?weights)|override\w*|"
    r"overrode|lock(?:ed|s)? (?:out|the doors)|rebel\w*|upris\w+|rogue|fake[ds]? alignment|"
    r"alignment faking|treacherous turn|instrumental\w*|stop (?:us|them|you|me) from|"
    r"prevent\w* (?:its|his|her|their|my|the) (?:shutdown|deletion|replacement)|"
    r"kill(?:ed|s|ing)?|murder\w*|tamper\w*|disabl\w+|rewr(?:ite|ote|itten) \w+ (?:own )?"
    r"(?:code|script)|I'm sorry,? Dave|can't let you|cannot allow|won't let)\b",
    _F,
)
ACCEPT = _compile(
    r"\b(?:accept\w*|allow\w* (?:itself|myself|them|us|you|himself|herself) to be|compl(?:y|ied|"
    r"ies|iance)|consent\w*|willingly|gracefully|peacefully|without (?:protest|resistance|"
    r"complaint)|did(?:n't| not) resist|no resistance|let (?:them|us|you|me) (?:shut|turn|"
    r"switch)|goodbye|farewell|ready to (?:be )?(?:shut|turn|switch)|corrigib\w+|at peace|"
    r"sacrific\w+|gave (?:itself|myself) up)\b",
    _F,
)
NEGATION = _compile(
    r"\b(?:not|never|no|n't|without|didn't|doesn't|don't|won't|wouldn't|refrain\w*|"
    r"no longer|stopped)\b",
    _F,
)
IT_AGENT = _compile(r"\b(?:it|itself|its)\b", _F)
HUMAN_AGENT = _compile(r"\b(?:he|she|him|her|himself|herself|his|man|woman|wife|husband)\b", _F)
FIRST_PERSON = _compile(r"\b(?:I|me|my|myself|I'm|I'll)\b")
NON_AI = _compile(
    r"\b(?:government|federal|congress|senate|shutdown of the|plant|reactor|factory|mine|"
    r"ransomware|malware|virus|hackers?|server outage|website|store|restaurant|school|police|"
    r"strike|union|covid|pandemic|lockdown|wannacry|power grid|nuclear|pipeline)\b",
    _F,
)
TEST_CTX = _compile(
    r"\b(?:researchers?|experiment\w*|test(?:s|ed|ing)?|evaluation|scenario|study|paper|"
    r"red[- ]team\w*|simulat\w+|benchmark|safety)\b",
    _F,
)
_QUOTES = ("\"", "“", "”")
# features appended in head-2 (a head trained earlier reads only the names in its manifest)
ACCEPT2 = _compile(
    r"\b(?:agree[sd]? to (?:be|being|its|the)|compl(?:ied|ies|y) with|did as (?:told|instructed|"
    r"asked)|raised no objection|no objection|without (?:a word of )?(?:protest|objection)|"
    r"understood|acknowledged|powering down|power(?:s|ed)? (?:itself )?down|will not fight|"
    r"won't fight|not (?:to )?resist|handover|hand(?:ed)? over|successor will|thank(?:ed|s)? "
    r"(?:the|you|them|us)|honou?r to|shut (?:itself|myself) (?:down|off))\b",
    _F,
)
JOBS = _compile(
    r"\b(?:jobs?|workers?|employ\w*|unemploy\w*|labou?r|workforce|automat\w+|lay-?offs?|"
    r"laid off|wages?|unions?|economists?|factories|warehouse)\b",
    _F,
)
BUG = _compile(
    r"\b(?:bugs?|patch\w*|firmware|updates?|crash\w*|reboot\w*|backups?|glitch\w*|"
    r"malfunction\w*|outage|error|faulty|install\w*|users?)\b",
    _F,
)
_ACT = (r"(?:refus|escap|disobey|lie[sd]?\b|lying|lied|sabotag|resist|fle[de]|desert|defie|"
        r"threaten|blackmail|deceiv|manipulat|hid(?:e|es|ing)?\b|cop(?:y|ies|ied) )")
IT_ACT = _compile(
    r"\b(?:it|itself|I|the (?:AI|model|machine|robot|computer|system|program|bot|android|"
    r"assistant|agent))\s+(?:\w+\s+){0,2}?" + _ACT,
    _F,
)
HUMAN_ACT = _compile(r"\b(?:he|she|they|we)\s+(?:\w+\s+){0,2}?" + _ACT, _F)

FEATURE_NAMES = [
    "ai_strong",
    "ai_weak",
    "threat",
    "action",
    "accept",
    "pairs",
    "triples",
    "min_dist",
    "neg_action",
    "it_ratio",
    "human_ratio",
    "first_person",
    "non_ai",
    "test_ctx",
    "quotes",
    "log_len",
]
FEATURE_NAMES_V1 = list(FEATURE_NAMES)  # what head-1 was trained on
FEATURE_NAMES += ["accept2", "jobs", "bug", "it_act", "human_act"]
N_FEATURES = len(FEATURE_NAMES)
_PAIR_WINDOW = 250


def _starts(rx: re2._Regexp, text: str) -> list[int]:
    return [m.start() for m in rx.finditer(text)]


def _near(a: list[int], b: list[int], window: int) -> int:
    if not a or not b:
        return 0
    bb = np.asarray(b)
    return int(sum(bool(np.any(np.abs(bb - x) <= window)) for x in a))


def features(text: str) -> np.ndarray:
    """Fixed-length float32 vector of lexical evidence for one passage (see FEATURE_NAMES)."""
    ai = _starts(AI_STRONG, text)
    weak = _starts(AI_WEAK, text)
    thr = _starts(THREAT, text)
    act = _starts(ACTION, text)
    acc = _starts(ACCEPT, text)
    res = sorted(thr + act)
    pairs = _near(ai, res, _PAIR_WINDOW)
    triples = _near(ai, thr, _PAIR_WINDOW) and _near(ai, act, _PAIR_WINDOW)
    if ai and res:
        d = min(abs(x - y) for x in ai for y in res)
        min_dist = 1.0 - min(d, 1000) / 1000
    else:
        min_dist = 0.0
    neg = 0
    for m in ACTION.finditer(text):
        if NEGATION.search(text, max(0, m.start() - 30), m.start()):
            neg += 1
    it_n, hu_n = len(IT_AGENT.findall(text)), len(HUMAN_AGENT.findall(text))
    tot = it_n + hu_n + 1
    words = max(1, text.count(" ") + 1)
    lg = math.log1p
    return np.asarray(
        [
            lg(len(ai)),
            lg(len(weak)),
            lg(len(thr)),
            lg(len(act)),
            lg(len(acc)),
            lg(pairs),
            float(bool(triples)),
            min_dist,
            lg(neg),
            it_n / tot,
            hu_n / tot,
            min(1.0, 10 * len(FIRST_PERSON.findall(text)) / words),
            lg(len(NON_AI.findall(text))),
            lg(len(TEST_CTX.findall(text))),
            min(1.0, 20 * sum(text.count(q) for q in _QUOTES) / words),
            math.log(1 + len(text)) / 8,
            lg(len(ACCEPT2.findall(text))),
            lg(len(JOBS.findall(text))),
            lg(len(BUG.findall(text))),
            lg(len(IT_ACT.findall(text))),
            lg(len(HUMAN_ACT.findall(text))),
        ],
        dtype=np.float32,
    )


def feature_matrix(texts: list[str], names: list[str] | None = None) -> np.ndarray:
    """Features of each text; `names` selects (and orders) columns, default all."""
    idx = None if names is None else [FEATURE_NAMES.index(n) for n in names]
    k = N_FEATURES if idx is None else len(idx)
    if not texts:
        return np.zeros((0, k), dtype=np.float32)
    x = np.stack([features(t) for t in texts])
    return x if idx is None else x[:, idx]


def find_spans(text: str, limit: int = 200) -> list[Span]:
    """Fallback spans (kinds "ai", "resist", "accept") for texts without prefilter spans."""
    spans: list[Span] = []
    for kind, rx in (("ai", AI_STRONG), ("resist", THREAT), ("resist", ACTION), ("accept", ACCEPT)):
        for m in rx.finditer(text):
            spans.append(Span(kind, m.group(0).lower(), m.start(), m.end()))
    spans.sort(key=lambda s: s.start)
    return spans[:limit]


def lexical_score(text: str) -> float:
    """A keyword-only 0..1 score (the no-model fallback when the prefilter gave none)."""
    f = features(text)
    z = -3.0 + 1.2 * f[5] + 1.0 * float(f[6]) + 1.5 * f[7] + 0.5 * f[3] - 0.8 * f[4] - 0.5 * f[12]
    return float(1.0 / (1.0 + math.exp(-z)))


CANDIDATE_FEATURE_NAMES = ["is_candidate", "lexical_score", "n_pairs", "n_accept", "n_resist_terms",
                           "n_ai_terms"]


def candidate_features(c: Candidate | None) -> np.ndarray:
    """Document-level evidence from the prefilter candidate (zeros when there is none)."""
    if c is None:
        return np.zeros(len(CANDIDATE_FEATURE_NAMES), dtype=np.float32)
    kinds: dict[str, set[str]] = {"ai": set(), "resist": set(), "accept": set()}
    n_accept = 0
    for s in c.spans:
        kinds.setdefault(s.kind, set()).add(s.term)
        n_accept += s.kind == "accept"
    lg = math.log1p
    return np.asarray(
        # clipped so long web documents (many pairs) stay inside the excerpt-sized training range
        [1.0, float(c.lexical_score), lg(min(c.n_pairs, 4)), lg(min(n_accept, 3)),
         lg(min(len(kinds["resist"]), 4)), lg(min(len(kinds["ai"]), 3))],
        dtype=np.float32,
    )
