"""The datatrove peer of `benchmarks/speed.py` compiles the shipped lexicon for hyperscan
itself; it must accept every pattern (the lexicon is written in Python's regex syntax) and
find what corpus-scan's prefilter finds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PEERS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"


def _peers():
    spec = importlib.util.spec_from_file_location("peers", PEERS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_peer_hyperscan_database_compiles_the_shipped_lexicon() -> None:
    peers = _peers()
    db, kinds = peers.hyperscan_database()
    assert set(kinds) == {0, 1}
    text = "The AI would not let them shut it\u00a0down."
    found: list[tuple[int, int, int]] = []
    db.scan(text.encode(),
            match_event_handler=lambda i, a, b, _f, _c: found.append((kinds[i], a, b)))
    data = text.encode()
    assert {data[a:b].decode() for k, a, b in found if k == 1} >= {"shut it\u00a0down"}
    assert {data[a:b].decode() for k, a, b in found if k == 0} == {"AI"}
