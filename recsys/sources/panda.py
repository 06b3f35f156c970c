"""PANDA 4-quadrant AllMusic dataset (metadata CSV): quadrant, AllMusic mood and genre tags."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import split_list
from recsys.sources.base import MOOD_DERIVED, Adapter
from recsys.sources.deezer import QUADRANT_MOOD


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["Title"], "artist": df["Artist"]})
    out["mood_label"] = df["Quadrant"].astype("string").str.strip().str.upper().map(QUADRANT_MOOD)
    moods = df["MoodsStr"] if "MoodsStr" in df.columns else pd.Series(None, index=df.index)
    out["moods_raw"] = [[str(q)] + split_list(m, ";") for q, m in zip(df["Quadrant"], moods)]
    out["genres_raw"] = df["GenresStr"].map(lambda g: split_list(g, ";")) if "GenresStr" in df.columns else None
    return out


ADAPTER = Adapter(
    "allmusic_panda",
    frozenset({"Artist", "Title", "Quadrant", "MoodsStr"}),
    load,
    mood_rank=MOOD_DERIVED,
    description="PANDA AllMusic 4-quadrant metadata",
)
