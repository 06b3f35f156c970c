"""Platt scaling of the genre head, fitted by the batch job on the validation songs.

Training weights each genre's positives and samples songs of rare genres more often
(``training.train``), so the genre sigmoids rank songs well but overstate every genre: on the
real catalogue's test songs folk averaged 0.43 against a 7% share. ``recsys similar --explain``
shows these numbers as probabilities, so the build maps each genre's logit through a logistic
regression fitted on the validation songs (never the test songs, never the training songs the
head has learnt). Mood is left as the softmax gives it: class weighting moves it only a few
points from the observed shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Keeps the logit finite for a sigmoid that saturated in float32.
EPS = 1e-6


def _logit(probs: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


@dataclass(frozen=True)
class GenreCalibration:
    """Per genre, ``p' = sigmoid(slope * logit(p) + intercept)``; identity where unfitted."""

    genres: list[str]
    slope: np.ndarray  # (n_genres,)
    intercept: np.ndarray  # (n_genres,)
    fitted: np.ndarray  # (n_genres,) bool: False where the songs lacked positives or negatives, or the fit reversed the order
    n_songs: int

    def transform(self, probs: np.ndarray) -> np.ndarray:
        """(n, n_genres) raw sigmoids -> calibrated probabilities (float32)."""
        z = self.slope * _logit(probs) + self.intercept
        return np.where(self.fitted, 1 / (1 + np.exp(-z)), probs).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "platt",
            "fitted_on": "val",
            "n_songs": self.n_songs,
            "per_genre": {
                g: {"slope": round(float(s), 4), "intercept": round(float(b), 4), "fitted": bool(f)}
                for g, s, b, f in zip(self.genres, self.slope, self.intercept, self.fitted)
            },
        }


def fit_genre_calibration(probs: np.ndarray, truth: np.ndarray, genres: list[str]) -> GenreCalibration:
    """Fit one logistic regression per genre on the logit of ``probs`` (rows: songs with genre
    labels, columns: ``genres``) against ``truth`` (same shape, 0/1). A genre that the songs
    show only as present or only as absent keeps its raw probability, and so does one whose fitted
    slope is not positive: on a few validation songs a chance pattern can make the fit reverse the
    head's order, and a calibration must not turn its most confident songs into its least likely
    ones (11 demo validation songs gave jazz, r&b and rock slopes below 0). scikit-learn's default L2
    penalty (C = 1, on the slope only) keeps the fit finite for a rare genre the logit separates
    perfectly and shrinks rare genres towards their share: on the real catalogue's validation
    songs it lowers the slope by about 1% for the four genres with 90 or more positives and by
    2 to 12% for the others (most for latin, reggae and classical, with 5 to 17)."""
    from sklearn.linear_model import LogisticRegression

    n_genres = len(genres)
    slope, intercept = np.ones(n_genres), np.zeros(n_genres)
    fitted = np.zeros(n_genres, dtype=bool)
    logits = _logit(probs)
    truth = np.asarray(truth) > 0
    for g in range(n_genres):
        if truth[:, g].all() or not truth[:, g].any():
            continue
        model = LogisticRegression().fit(logits[:, g : g + 1], truth[:, g])
        if model.coef_[0, 0] > 0:
            slope[g], intercept[g], fitted[g] = float(model.coef_[0, 0]), float(model.intercept_[0]), True
    return GenreCalibration(list(genres), slope, intercept, fitted, int(len(truth)))
