"""Genius tags (genius_metadata.csv): Artist, SongTitle, Year, comma-separated Genius_Tags.

193k rows, almost none of them songs we have lyrics for: the join keeps only the matched ones,
so this stays vectorised and cheap.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import year_of
from recsys.sources.base import Adapter


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["SongTitle"], "artist": df["Artist"]})
    out["year"] = year_of(df["Year"]) if "Year" in df.columns else None
    tags = df["Genius_Tags"].fillna("").astype(str).str.split(",")
    out["genres_raw"] = tags.map(lambda ts: [t.strip() for t in ts if t.strip()])
    return out


ADAPTER = Adapter(
    "genius_tags",
    frozenset({"Artist", "SongTitle", "Genius_Tags"}),
    load,
    description="Genius tags (Artist, SongTitle, Genius_Tags)",
)
