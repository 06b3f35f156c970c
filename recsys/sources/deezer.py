"""Deezer mood detection dataset: standardised valence/arousal per song, no lyrics. The mood is
derived from the Russell quadrant the (valence, arousal) point falls in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsys.sources._read import numeric
from recsys.sources.base import MOOD_DERIVED, Adapter

# Russell's circumplex: Q1 +valence +arousal, Q2 -v +a, Q3 -v -a, Q4 +v -a.
QUADRANT_MOOD = {"Q1": "happy", "Q2": "angry", "Q3": "sad", "Q4": "relaxed"}


def quadrant(valence: pd.Series, arousal: pd.Series) -> pd.Series:
    """Q1..Q4 from signed valence and arousal; null where either is missing."""
    q = np.where(valence >= 0, np.where(arousal >= 0, "Q1", "Q4"), np.where(arousal >= 0, "Q2", "Q3"))
    return pd.Series(q, index=valence.index, dtype=object).where(valence.notna() & arousal.notna())


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    valence, arousal = numeric(df, "valence", path), numeric(df, "arousal", path)
    q = quadrant(valence, arousal)
    out = pd.DataFrame({"title": df["track_name"], "artist": df["artist_name"]})
    out["mood_label"] = q.map(QUADRANT_MOOD)
    out["moods_raw"] = [
        [f"valence={v:.3f}", f"arousal={a:.3f}"] if pd.notna(v) and pd.notna(a) else [] for v, a in zip(valence, arousal)
    ]
    return out


ADAPTER = Adapter(
    "deezer_mood",
    frozenset({"artist_name", "track_name", "valence", "arousal"}),
    load,
    mood_rank=MOOD_DERIVED,
    description="Deezer mood detection (valence/arousal)",
)
