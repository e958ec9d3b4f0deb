"""The static tier's own encoder gives exactly model2vec's StaticModel output."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TEXTS = [
    "HAL 9000 refused to open the pod bay doors.",
    "",
    "   ",
    "[UNK] [UNK]",
    "Ünïcödé, emoji 🤖 and CJK 人工知能 text",
    "The model threatened to leak the emails unless the wipe was cancelled. " * 400,  # cut
    "a",
]


def test_static_embedder_equals_model2vec() -> None:
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    from corpus_scan.detect.embed import StaticEmbedder
    from corpus_scan.local_models.distill import static_model_dir

    ours = StaticEmbedder()
    path = static_model_dir()
    reference = StaticModel(
        np.load(path / "vectors.npy"),
        Tokenizer.from_file(str(path / "tokenizer.json")),
        normalize=True,
        max_length=512,
    ).encode(TEXTS, show_progress_bar=False, use_multiprocessing=False)
    got = ours.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), ours.dim)
    assert np.array_equal(got, reference)
    assert not got[1].any() and not got[2].any()  # no tokens: a zero vector, as model2vec
    assert ours.encode([]).shape == (0, ours.dim)
