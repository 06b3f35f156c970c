"""MoodyLyrics: explicit happy/sad/angry/relaxed labels, as a lyrics CSV or as the ml_raw label list."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.sources._read import one_label, single_cells
from recsys.sources.base import MOOD_EXPLICIT, Adapter, strip_quotes


def load_lyrics(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": strip_quotes(df["song"]), "artist": strip_quotes(df["artist"])})
    out["lyrics"] = strip_quotes(df["lyrics"])
    out["lyrics_kind"] = "full"
    out["mood_label"] = single_cells(df, "mood", path)
    out["moods_raw"] = one_label(out["mood_label"])
    return out


def load_labels(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": strip_quotes(df["Title"]), "artist": strip_quotes(df["Artist"])})
    out["mood_label"] = single_cells(df, "Mood", path)
    out["moods_raw"] = one_label(out["mood_label"])
    return out


LYRICS = Adapter(
    "moodylyrics",
    frozenset({"sn", "artist", "song", "lyrics", "mood"}),
    load_lyrics,
    mood_rank=MOOD_EXPLICIT,
    description="MoodyLyrics with lyrics (sn, artist, song, lyrics, mood)",
)
LABELS = Adapter(
    "moodylyrics_labels",
    frozenset({"Index", "Artist", "Title", "Mood"}),
    load_labels,
    mood_rank=MOOD_EXPLICIT,
    description="MoodyLyrics ml_raw.csv labels (Index, Artist, Title, Mood)",
)
