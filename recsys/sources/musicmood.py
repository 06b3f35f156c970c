"""MusicMood (rasbt): full lyrics, a genre and an explicit happy/sad label per song."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import one_label, single_cells, year_of
from recsys.sources.base import MOOD_EXPLICIT, Adapter


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["title"], "artist": df["artist"], "lyrics": df["lyrics"]})
    out["lyrics_kind"] = "full"
    out["year"] = year_of(df["year"]) if "year" in df.columns else None
    out["mood_label"] = single_cells(df, "mood", path)
    out["moods_raw"] = one_label(out["mood_label"])
    out["genres_raw"] = one_label(single_cells(df, "genre", path))
    return out


ADAPTER = Adapter(
    "musicmood",
    frozenset({"file", "artist", "title", "lyrics", "genre", "mood"}),
    load,
    mood_rank=MOOD_EXPLICIT,
    description="MusicMood train/valid CSV (rasbt)",
)
