"""Any CSV/Parquet file with a user-given column mapping (``--map title=Song`` or a TOML file).

TOML layout::

    lyrics_kind = "full"          # optional: full | preprocessed | bag_of_words
    [columns]
    title = "Song"                # catalogue field = column in the file
    artist = "Band"
    mood = "Mood"                 # explicit labels, canonicalised by the tag table
    genres = "Genres"             # a list literal or a ",;|"-separated string

Unlike the built-in formats, a song listed twice in the user's own file is an error: the mapping
cannot tell which row is meant.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.catalog import song_key
from recsys.schema import AUDIO_FEATURES, LYRICS_KINDS
from recsys.errors import RecsysError
from recsys.sources._read import check_readable, one_label, read_toml, row_at, single_cells, split_list, year_of
from recsys.text import counted, shorten
from recsys.sources.base import AUDIO_SPOTIFY, MOOD_EXPLICIT, Adapter, audio

FIELDS = ["title", "artist", "year", "lyrics", "mood", "genres", "tags"] + AUDIO_FEATURES


def parse_mapping(mapping: Path | dict[str, str] | None) -> dict[str, str]:
    """A validated field -> column mapping from a TOML file or a dict (``lyrics_kind`` is a value)."""
    if mapping is None:
        raise RecsysError("format generic needs a column mapping: --map title=COL --map artist=COL or --mapping FILE.toml")
    where = "--map"
    if isinstance(mapping, Path):
        where = str(mapping)
        data = read_toml(mapping, "mapping")
        columns = data.get("columns", {k: v for k, v in data.items() if k != "lyrics_kind"})
        if not isinstance(columns, dict):
            raise RecsysError(f"{mapping}: [columns] must be a table of field = \"column\" lines")
        mapping = {**columns, **({"lyrics_kind": data["lyrics_kind"]} if "lyrics_kind" in data else {})}
    out: dict[str, str] = {}
    for field, column in mapping.items():
        if field != "lyrics_kind" and field not in FIELDS:
            raise RecsysError(f"{where}: unknown catalogue field {field!r} (known: {', '.join(FIELDS)}, lyrics_kind)")
        if not isinstance(column, str) or not column:
            what = f"one of {', '.join(LYRICS_KINDS)}" if field == "lyrics_kind" else "a column name"
            raise RecsysError(f"{where}: {field} must be {what}, as a string")
        out[field] = column
    if out.get("lyrics_kind", "full") not in LYRICS_KINDS:
        raise RecsysError(f"{where}: lyrics_kind must be one of {', '.join(LYRICS_KINDS)}")
    for field in ("title", "artist"):
        if field not in out:
            raise RecsysError(f"{where}: the mapping must name a column for {field!r}")
    return out


def _load(mapping: dict[str, str], df: pd.DataFrame, path: Path) -> pd.DataFrame:
    for field, column in mapping.items():
        if field != "lyrics_kind" and column not in df.columns:
            check_readable(df, column, path)
            # Its columns shown: a file split on another delimiter (";") reads as one long column name.
            raise RecsysError(f"{path}: mapping names column {column!r} for {field!r}, but the file has no such column "
                              f"(its columns: {shorten(', '.join(map(str, df.columns)), 80)})")
    col = {f: df[c] for f, c in mapping.items() if f != "lyrics_kind"}
    # Here and not in text_fields, so that an error names the file's own column.
    out = pd.DataFrame({"title": single_cells(df, mapping["title"], path), "artist": single_cells(df, mapping["artist"], path)})
    keys = pd.Series([song_key(a, t) for a, t in zip(out["artist"], out["title"])])
    # Nameless rows (key "||" and the like) are dropped and reported later, not duplicates.
    named = ~keys.str.startswith("||") & ~keys.str.endswith("||")
    dup = keys.duplicated(keep=False) & named
    if dup.any():
        first, second = np.flatnonzero(dup.to_numpy())[:2]
        raise RecsysError(f"{path}: {row_at(df, first)} and {row_at(df, second)} are the same song ({out['artist'].iloc[first]} - "
                          f"{out['title'].iloc[first]}); remove the duplicate")
    if "year" in col:
        cells = single_cells(df, mapping["year"], path)
        out["year"] = year = year_of(cells)
        unread = np.flatnonzero(cells.notna().to_numpy() & year.isna().to_numpy())
        if len(unread):
            # Your own file: a year that reads as none is a typo to fix, as an out-of-range audio value is.
            raise RecsysError(f"{path}: {row_at(df, unread[0])} column {mapping['year']!r}: {shorten(cells.iloc[unread[0]], 30)} is not a year "
                              f"(four digits from 1800 to 2099, alone or in a date); {counted(len(unread), 'such cell')} in all")
    if "lyrics" in col:
        out["lyrics"] = col["lyrics"]
        out["lyrics_kind"] = mapping.get("lyrics_kind", "full")
    for feature, values in audio(df, path, {f: mapping[f] for f in AUDIO_FEATURES if f in col}).items():
        out[feature] = values
    if "mood" in col:
        out["mood_label"] = single_cells(df, mapping["mood"], path)
        out["moods_raw"] = one_label(out["mood_label"])
    if "genres" in col:
        out["genres_raw"] = col["genres"].map(split_list)
    if "tags" in col:
        out["tags_raw"] = col["tags"].map(split_list)
    return out


def adapter(mapping: Path | dict[str, str] | None) -> Adapter:
    """The generic adapter bound to a validated mapping."""
    fields = parse_mapping(mapping)
    return Adapter("generic", frozenset(), partial(_load, fields), audio_rank=AUDIO_SPOTIFY, mood_rank=MOOD_EXPLICIT,
                   description="any CSV/Parquet with a column mapping")
