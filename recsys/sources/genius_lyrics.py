"""Genius lyrics scraped per artist (one CSV per artist: Artist, Title, Album, Year, Date, Lyric)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import year_of
from recsys.sources.base import Adapter


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["Title"], "artist": df["Artist"], "lyrics": df["Lyric"]})
    out["lyrics_kind"] = "full"
    when = df["Year"] if "Year" in df.columns else df.get("Date")
    out["year"] = year_of(when) if when is not None else None
    return out


ADAPTER = Adapter(
    "genius_lyrics",
    frozenset({"Artist", "Title", "Lyric"}),
    load,
    description="Genius lyrics per artist (Artist, Title, Lyric)",
)
