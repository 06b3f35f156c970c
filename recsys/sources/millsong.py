"""millsongdata (Kaggle 57k lyrics): artist, song, link, full lyrics text; no labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources.base import Adapter


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["song"], "artist": df["artist"], "lyrics": df["text"]})
    out["lyrics_kind"] = "full"
    return out


ADAPTER = Adapter(
    "millsongdata",
    frozenset({"artist", "song", "link", "text"}),
    load,
    description="millsongdata (artist, song, link, text)",
)
