"""tcc_ceds_music ("Music Dataset: 1950 to 2019", Mendeley): preprocessed lyrics, genre, topic and
six audio features min-max scaled to 0..1 over the upstream dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import numeric, one_label, single_cells, year_of
from recsys.sources.base import AUDIO_MINMAX, Adapter, audio

# tcc min-max scaled loudness over its own songs, whose true range is not published. The line
# fitted to the Spotify dB of the 260 songs the raw sources share (`python -m bench.loudness`)
# runs from -28.2 dB at 0 to 0.0 at 1 (median error 0.9 dB); Spotify's documented -60..0 range
# put tcc songs about 10 dB too quiet (see data/SCHEMA.md).
LOUDNESS_DB_RANGE = (-28.2, 0.0)


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, {c: c for c in ["danceability", "acousticness", "instrumentalness", "valence", "energy"]})
    if "loudness" in df.columns:
        lo, hi = LOUDNESS_DB_RANGE
        out["loudness"] = lo + (hi - lo) * numeric(df, "loudness", path)
    out["title"] = df["track_name"]
    out["artist"] = df["artist_name"]
    out["year"] = year_of(df["release_date"]) if "release_date" in df.columns else None
    out["lyrics"] = df["lyrics"]
    out["lyrics_kind"] = "preprocessed"
    out["genres_raw"] = one_label(single_cells(df, "genre", path))
    out["tags_raw"] = df["topic"].map(lambda t: [f"topic:{t}"] if isinstance(t, str) else []) if "topic" in df else None
    return out


ADAPTER = Adapter(
    "tcc_ceds",
    frozenset({"artist_name", "track_name", "lyrics", "genre", "topic"}),
    load,
    audio_rank=AUDIO_MINMAX,
    description="Music Dataset 1950-2019 (tcc_ceds_music.csv)",
)
