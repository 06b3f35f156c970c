"""p93serra songs_lyrics.csv: Spotify audio features for every row and, for some, the lyric's
unique words as a list literal (kept as ``bag_of_words`` lyrics)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.schema import AUDIO_FEATURES
from recsys.sources._read import split_list, year_of
from recsys.sources.base import AUDIO_SPOTIFY, Adapter, audio


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, {c: c for c in AUDIO_FEATURES})
    out["title"] = df["name"]
    out["artist"] = df["artist_1"]
    out["year"] = year_of(df["year"]) if "year" in df.columns else None
    # Rows still waiting for a scrape hold the placeholder "Pending"; only list literals are lyrics.
    cells = df["words_lyrics"].fillna("").astype(str).str.strip()
    words = [split_list(c) if c.startswith("[") else [] for c in cells]
    out["lyrics"] = [" ".join(ws) if ws else None for ws in words]
    out["lyrics_kind"] = "bag_of_words"
    return out


ADAPTER = Adapter(
    "spotify_bow_lyrics",
    frozenset({"name", "artist_1", "words_lyrics"}),
    load,
    audio_rank=AUDIO_SPOTIFY,
    description="Spotify features + bag-of-words lyrics (p93serra songs_lyrics.csv)",
)
