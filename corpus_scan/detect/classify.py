"""The trained head: calibrated narrative probability, category and stance from passage vectors.

Per tier (static / minilm) the head holds three standardised linear models over
`[passage embedding, lexical features]`:
- narrative (binary LR): passage logits -> document logit = max over passages -> Platt sigmoid
  (fit on out-of-fold document scores) = calibrated probability;
- category (multinomial LR, positives only): fiction | news | discussion | roleplay | other;
- stance (multinomial LR): resists | accepts | unclear.
Category and stance use the mean over the document's passages.

Artifacts: `corpus_scan/models/head.npz` (arrays) + `head.json` (manifest: versions, classes,
thresholds, uncertainty band, training-data hashes, CV metrics). Loaded once per process.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus_scan.atomic import write_atomic

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
HEAD_VERSION = "head-8"


@dataclass(slots=True)
class LinearModel:
    """Standardise, then an affine map: binary (k=1) or multinomial (k classes)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (k, d)
    intercept: np.ndarray  # (k,)
    classes: list[str]

    def decision(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean) / self.scale
        return z @ self.coef.T + self.intercept

    def proba(self, x: np.ndarray) -> np.ndarray:
        d = self.decision(x)
        if d.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-d[:, 0]))
            return np.stack([1 - p, p], axis=1)
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}.mean": self.mean,
            f"{prefix}.scale": self.scale,
            f"{prefix}.coef": self.coef,
            f"{prefix}.intercept": self.intercept,
        }

    @classmethod
    def from_arrays(
        cls, arr: dict[str, np.ndarray], prefix: str, classes: list[str]
    ) -> LinearModel:
        return cls(
            arr[f"{prefix}.mean"].astype(np.float32),
            arr[f"{prefix}.scale"].astype(np.float32),
            arr[f"{prefix}.coef"].astype(np.float32),
            arr[f"{prefix}.intercept"].astype(np.float32),
            classes,
        )


def pool_logits(z: np.ndarray) -> float:
    """Document logit from passage logits: the best passage decides."""
    return float(np.max(z)) if len(z) else -10.0


@dataclass(slots=True)
class TierHead:
    """The three heads of one embedding tier plus the Platt calibration of document scores."""

    tier: str
    narrative: LinearModel
    category: LinearModel
    stance: LinearModel
    platt_a: float
    platt_b: float

    def passage_logits(self, x: np.ndarray) -> np.ndarray:
        return self.narrative.decision(x)[:, 0]

    def calibrate(self, doc_logit: float | np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.platt_a * np.asarray(doc_logit) + self.platt_b)))

    def passage_probs(self, x: np.ndarray) -> np.ndarray:
        return self.calibrate(self.passage_logits(x))

    def document(self, x: np.ndarray) -> tuple[float, str, str]:
        """(probability, category, stance) for one document's passage matrix."""
        if len(x) == 0:
            return 0.0, "other", "unclear"
        prob = float(self.calibrate(pool_logits(self.passage_logits(x))))
        pooled = x.mean(axis=0, keepdims=True)
        cat = self.category.classes[int(self.category.proba(pooled)[0].argmax())]
        stance = self.stance.classes[int(self.stance.proba(pooled)[0].argmax())]
        return prob, cat, stance


@dataclass(slots=True)
class Head:
    tiers: dict[str, TierHead]
    manifest: dict

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", HEAD_VERSION))

    def threshold(self, tier: str) -> float:
        return float(self.manifest["thresholds"][tier])

    @property
    def feature_names(self) -> list[str]:
        """Lexical feature columns this head was trained on (head-1 predates the list)."""
        from corpus_scan.detect.features import FEATURE_NAMES_V1

        return list(self.manifest.get("features") or FEATURE_NAMES_V1)

    @property
    def minilm_passages(self) -> int:
        """How many passages (best static score first) the MiniLM tier re-scores per doc."""
        return int(self.manifest.get("minilm_passages", 4))

    @property
    def band(self) -> tuple[float, float]:
        lo, hi = self.manifest["band"]
        return float(lo), float(hi)

    def save(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name, th in self.tiers.items():
            arrays.update(th.narrative.arrays(f"{name}.narrative"))
            arrays.update(th.category.arrays(f"{name}.category"))
            arrays.update(th.stance.arrays(f"{name}.stance"))
            arrays[f"{name}.platt"] = np.asarray([th.platt_a, th.platt_b], dtype=np.float64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        npz = buf.getvalue()
        write_atomic(out / "head.npz", npz)  # a scan never loads half a head
        manifest = dict(self.manifest)
        manifest["tiers"] = {
            name: {
                "category_classes": th.category.classes,
                "stance_classes": th.stance.classes,
            }
            for name, th in self.tiers.items()
        }
        manifest["npz_sha256"] = hashlib.sha256(npz).hexdigest()
        write_atomic(out / "head.json", json.dumps(manifest, indent=2).encode("utf-8"))
        self.manifest = manifest
        return out

    @classmethod
    def load(cls, model_dir: str | Path | None = None) -> Head:
        d = Path(model_dir) if model_dir else MODELS_DIR
        manifest = json.loads((d / "head.json").read_text(encoding="utf-8"))
        with np.load(d / "head.npz") as z:
            arr = {k: z[k] for k in z.files}
        tiers = {}
        for name, meta in manifest["tiers"].items():
            a, b = arr[f"{name}.platt"]
            tiers[name] = TierHead(
                name,
                LinearModel.from_arrays(arr, f"{name}.narrative", ["0", "1"]),
                LinearModel.from_arrays(arr, f"{name}.category", meta["category_classes"]),
                LinearModel.from_arrays(arr, f"{name}.stance", meta["stance_classes"]),
                float(a),
                float(b),
            )
        return cls(tiers, manifest)


_HEAD_CACHE: dict[str, Head] = {}


def load_head(model_dir: str | Path | None = None) -> Head:
    """Process-wide cached head (shipped artifacts by default)."""
    key = str(model_dir or MODELS_DIR)
    if key not in _HEAD_CACHE:
        _HEAD_CACHE[key] = Head.load(model_dir)
    return _HEAD_CACHE[key]
