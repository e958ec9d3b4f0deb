"""`build_models`: build the locally derived models a scan needs, now instead of on first use.

Both come from the packaged MiniLM, nothing is downloaded: the static embedding model
(`distill`, ~20-85 s) and the int8 MiniLM (`quantize`, ~13 s). They land in the user cache
(`$CORPUS_SCAN_CACHE` or `~/.cache/corpus-scan`), or under `cache` when given, each in a folder
named by its recipe version; `rebuild` replaces folders that already exist.
"""

from __future__ import annotations

from pathlib import Path


def build_models(cache: str | Path | None = None, rebuild: bool = False) -> dict[str, Path]:
    """{"static": folder, "minilm-int8": folder} after building what is missing."""
    from corpus_scan.local_models import cache_dir
    from corpus_scan.local_models.distill import (
        DISTILL_VERSION,
        build_static_model,
        ensure_static_model,
    )
    from corpus_scan.local_models.quantize import (
        QUANT_VERSION,
        build_minilm_int8,
        ensure_minilm_int8,
    )

    root = Path(cache) if cache else cache_dir()
    static, int8 = root / DISTILL_VERSION, root / QUANT_VERSION
    if rebuild:
        return {"static": build_static_model(static), "minilm-int8": build_minilm_int8(int8)}
    return {"static": ensure_static_model(static), "minilm-int8": ensure_minilm_int8(int8)}
