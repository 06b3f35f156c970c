"""The open-lyrics dataset (HesitantlyHuman): full lyrics with Genius genre tags as a list literal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import split_list
from recsys.sources.base import Adapter


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["title"], "artist": df["artist"], "lyrics": df["lyrics"]})
    out["lyrics_kind"] = "full"
    out["genres_raw"] = df["genres"].map(split_list)
    return out


ADAPTER = Adapter(
    "open_lyrics",
    frozenset({"title", "artist", "lyrics", "genres", "genius ID"}),
    load,
    description="open-lyrics dataset (title, artist, lyrics, genres, genius ID)",
)
