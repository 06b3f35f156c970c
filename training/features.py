"""Audio features as model input: scaled continuous values, one-hot categories and a missing-mask.

Fit on the TRAINING split only (the caller passes the train rows), so validation and test songs
are scaled with statistics they did not contribute to. Missing values are normal: a missing
continuous value becomes 0 after scaling (the training mean), a missing category an all-zero
one-hot, and the mask says which was which, so a song with no audio at all still transforms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.schema import CATEGORICAL_FEATURES, CONTINUOUS_FEATURES
from recsys.errors import RecsysError
from recsys.io import write_json
from recsys.text import shorten

FORMAT_VERSION = 1
KEYS = list(range(12))
MODES = [0, 1]


def _numeric(df: pd.DataFrame, column: str) -> np.ndarray:
    """``df[column]`` as float64 with NaN for missing; an absent column is all missing."""
    if column not in df:
        return np.full(len(df), np.nan)
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    bad = (np.isnan(values) & raw.notna().to_numpy()) | np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise RecsysError(f"audio features: column {column!r}, row {row + 1}: {shorten(raw.iloc[row])} is not a finite number")
    return values


def _one_hot(values: np.ndarray, categories: list[int], other: bool) -> tuple[np.ndarray, np.ndarray]:
    """One-hot over ``categories`` (+ an "other" slot) and a missing flag per row.

    Without an "other" slot a value outside ``categories`` (say key 13) is not a valid value
    and counts as missing.
    """
    width = len(categories) + int(other)
    out = np.zeros((len(values), width), dtype=np.float32)
    missing = np.isnan(values)
    slot = {c: i for i, c in enumerate(categories)}
    for row, value in enumerate(values):
        if missing[row]:
            continue
        i = slot.get(int(round(value)))
        if i is not None:
            out[row, i] = 1.0
        elif other:
            out[row, -1] = 1.0
        else:
            missing[row] = True
    return out, missing


class AudioFeatures:
    """Scaler for the catalogue's audio columns; ``transform`` gives (n, dim) float32."""

    def __init__(self, mean: dict[str, float], std: dict[str, float], time_signatures: list[int], clip: float) -> None:
        self.mean, self.std, self.time_signatures, self.clip = mean, std, time_signatures, clip

    @classmethod
    def fit(cls, df: pd.DataFrame, *, clip: float = 5.0) -> AudioFeatures:
        """Fit on the TRAINING rows only: mean/std of each continuous feature, time signatures seen.

        A feature with no training values keeps mean 0 and std 1; a constant one gets std 1.
        Scaled values are clipped to ``±clip`` standard deviations so outliers (tempo 0, loudness
        -60 dB) cannot dominate the hidden layer.
        """
        if len(df) == 0:
            raise RecsysError("audio features: cannot fit on an empty training set")
        if clip <= 0:
            raise RecsysError(f"audio features: clip must be positive, got {clip}")
        mean: dict[str, float] = {}
        std: dict[str, float] = {}
        for column in CONTINUOUS_FEATURES:
            values = _numeric(df, column)
            present = values[~np.isnan(values)]
            mean[column] = float(present.mean()) if len(present) else 0.0
            sd = float(present.std()) if len(present) > 1 else 0.0
            std[column] = sd if sd > 1e-12 else 1.0
        ts = _numeric(df, "time_signature")
        seen = sorted({int(round(v)) for v in ts[~np.isnan(ts)]})
        return cls(mean, std, seen, float(clip))

    @property
    def names(self) -> list[str]:
        """Column names of :meth:`transform`'s output, in order."""
        return (
            list(CONTINUOUS_FEATURES)
            + [f"key={k}" for k in KEYS]
            + [f"mode={m}" for m in MODES]
            + [f"time_signature={t}" for t in self.time_signatures]
            + ["time_signature=other"]
            + [f"missing:{c}" for c in CONTINUOUS_FEATURES + CATEGORICAL_FEATURES]
        )

    @property
    def dim(self) -> int:
        return len(self.names)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """(n, dim) float32: scaled continuous values, key/mode/time-signature one-hots, missing-mask."""
        n = len(df)
        scaled = np.zeros((n, len(CONTINUOUS_FEATURES)), dtype=np.float32)
        masks: list[np.ndarray] = []
        for j, column in enumerate(CONTINUOUS_FEATURES):
            values = _numeric(df, column)
            missing = np.isnan(values)
            z = np.clip((values - self.mean[column]) / self.std[column], -self.clip, self.clip)
            scaled[:, j] = np.where(missing, 0.0, z)
            masks.append(missing)
        key, key_missing = _one_hot(_numeric(df, "key"), KEYS, other=False)
        mode, mode_missing = _one_hot(_numeric(df, "mode"), MODES, other=False)
        ts, ts_missing = _one_hot(_numeric(df, "time_signature"), self.time_signatures, other=True)
        masks += [key_missing, mode_missing, ts_missing]
        mask = np.stack(masks, axis=1).astype(np.float32)
        return np.concatenate([scaled, key, mode, ts, mask], axis=1)

    def save(self, path: str | Path) -> Path:
        """Write the scaler as JSON (params and format version), atomically."""
        path = Path(path)
        write_json(
            path,
            {
                "format_version": FORMAT_VERSION,
                "mean": self.mean,
                "std": self.std,
                "time_signatures": self.time_signatures,
                "clip": self.clip,
                "names": self.names,
            },
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> AudioFeatures:
        """Read a file written by :meth:`save`; one-line RecsysError on a missing, damaged or foreign file."""
        path = Path(path)
        if not path.is_file():
            raise RecsysError(f"{path}: no such audio feature file")
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            version = data["format_version"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RecsysError(f"{path}: unreadable audio feature file ({type(exc).__name__})") from None
        if version != FORMAT_VERSION:
            raise RecsysError(f"{path}: audio feature format {version}, this recsys reads {FORMAT_VERSION}")
        try:
            mean = {c: float(data["mean"][c]) for c in CONTINUOUS_FEATURES}
            std = {c: float(data["std"][c]) for c in CONTINUOUS_FEATURES}
            features = cls(mean, std, [int(t) for t in data["time_signatures"]], float(data["clip"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecsysError(f"{path}: audio feature file is incomplete ({type(exc).__name__}: {exc})") from None
        if any(s <= 0 or not np.isfinite(s) for s in std.values()) or features.names != data.get("names"):
            raise RecsysError(f"{path}: audio feature file is inconsistent (bad std or column names)")
        return features
