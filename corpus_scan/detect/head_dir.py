"""A user's `--head DIR`, checked before any work: a head that cannot score with this version
gives one line naming what is wrong, not a numpy broadcast error blaming the data file, a
failed shard per input, or (a head.npz of another training run beside head.json) silently
wrong scores."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from corpus_scan.detect.classify import Head, load_head
from corpus_scan.detect.features import candidate_features
from corpus_scan.documents import InputError

# embedding width of each tier's vectors (static: PCA of MiniLM's token table; MiniLM: 384)
TIER_DIMS = {"static": 256, "minilm": 384}


def load_head_dir(head_dir: str | Path, mode: str = "cascade") -> Head:
    """A user's head folder, checked: one-line InputError naming what is missing, unreadable
    or made for another version (see module doc)."""
    d = Path(head_dir)
    if not d.is_dir():
        raise InputError(f"--head {d}: no such folder (write one with `corpus-scan train --out`)")
    for name in ("head.json", "head.npz"):
        if not (d / name).is_file():
            raise InputError(f"--head {d}: {name} is missing (`corpus-scan train --out {d}` "
                             "writes both)")
    try:
        head = load_head(d.resolve())
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError,
            zipfile.BadZipFile) as exc:
        raise InputError(f"--head {d}: not a corpus-scan head ({type(exc).__name__}: {exc})"
                         ) from None  # fmt: skip
    need = {"cascade": ("static", "minilm"), "minilm": ("minilm",), "static": ("static",)}[mode]
    missing = [t for t in need if t not in head.tiers]
    if missing:
        raise InputError(f"--head {d}: has no {' or '.join(missing)} tier, which the {mode} "
                         "detector needs")
    _check_pair(d, head)
    _check_widths(d, head)
    return head


def _check_pair(d: Path, head: Head) -> None:
    want = head.manifest.get("npz_sha256")
    if want and hashlib.sha256((d / "head.npz").read_bytes()).hexdigest() != want:
        raise InputError(f"--head {d}: head.npz is not the one head.json describes (another "
                         "training run's?); copy both files of one `train --out`")


def _check_widths(d: Path, head: Head) -> None:
    extra = len(head.feature_names) + len(candidate_features(None))
    for name, tier in head.tiers.items():
        width = TIER_DIMS.get(name, 0) + extra
        for part in (tier.narrative, tier.category, tier.stance):
            got = part.coef.shape[-1]
            if got != width or part.mean.shape[0] != width or part.scale.shape[0] != width:
                raise InputError(
                    f"--head {d}: its {name} tier takes {got} inputs, this version gives it "
                    f"{width} ({len(head.feature_names)} features named in head.json); "
                    f"retrain it with `corpus-scan train --out {d}`"
                )
