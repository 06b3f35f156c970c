"""data_moods.csv: Spotify audio features with a playlist mood (Calm, Happy, Sad, Energetic)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.schema import AUDIO_FEATURES
from recsys.sources._read import one_label, single_cells, year_of
from recsys.sources.base import AUDIO_SPOTIFY, MOOD_DERIVED, Adapter, audio


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, {c: c for c in AUDIO_FEATURES})
    out["title"] = df["name"]
    out["artist"] = df["artist"]
    out["year"] = year_of(df["release_date"]) if "release_date" in df.columns else None
    out["mood_label"] = single_cells(df, "mood", path)
    out["moods_raw"] = one_label(out["mood_label"])
    return out


ADAPTER = Adapter(
    "spotify_playlist_moods",
    frozenset({"name", "artist", "mood", "valence", "energy"}),
    load,
    audio_rank=AUDIO_SPOTIFY,
    mood_rank=MOOD_DERIVED,
    description="Spotify features + playlist mood (data_moods.csv)",
)
