"""What every format adapter produces: a *source frame*, one row per raw record.

Columns (all optional except title and artist): ``title artist year lyrics lyrics_kind``, the
audio features already on the catalogue's scales, ``mood_label`` (a raw mood word, canonicalised
later by the tag table), ``moods_raw genres_raw tags_raw`` (lists of raw strings). The adapter's
``audio_rank`` and ``mood_rank`` tell the join which source wins a conflict (data/SCHEMA.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.schema import FEATURE_RANGES, UNKNOWN_CODES
from recsys.sources._read import cell, numeric, present_cells
from recsys.text import shorten

# Conflict ranks (higher wins): Spotify-scale audio beats tcc's min-max audio; explicit mood
# labels beat moods derived from valence/arousal, AllMusic quadrants or playlist names.
AUDIO_SPOTIFY, AUDIO_MINMAX = 2, 1
MOOD_EXPLICIT, MOOD_DERIVED = 2, 1

KEY_NAMES = {"C": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "F": 5, "F#": 6, "GB": 6, "G": 7,
             "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11}


@dataclass(frozen=True)
class Adapter:
    """A named format: the header columns that identify it and the function that reads it."""

    name: str
    signature: frozenset[str]
    load: Callable[[pd.DataFrame, Path], pd.DataFrame]
    audio_rank: int = 0
    mood_rank: int = 0
    description: str = ""


def audio(df: pd.DataFrame, path: Path, columns: dict[str, str], scale: dict[str, float] | None = None) -> pd.DataFrame:
    """Audio columns renamed to catalogue names (``columns``: canonical -> source column),
    divided by ``scale`` where a source uses another unit (Spotify-2000's 0..100); key, mode and
    time signature read from their names too ("C#/Db", "Major", "4 beats")."""
    out = pd.DataFrame(index=df.index)
    for canonical, column in columns.items():
        if column in df.columns:
            raw = _categorical(df, column, canonical, path) if canonical in CATEGORICAL_PARSERS else numeric(df, column, path)
            unit = (scale or {}).get(canonical, 1.0)
            values = raw / unit
            low, high = FEATURE_RANGES.get(canonical, (-np.inf, np.inf))
            if unit != 1.0 and (fractional := (raw % 1).fillna(0).ne(0)).any():
                # A file already on the 0..1 scale would be divided again and pass the range check.
                raise RecsysError(f"{path}: {cell(df, fractional, column)}: {raw[fractional].iloc[0]:g} is not a whole number, but this "
                                  f"format gives {canonical} as whole numbers {low * unit:g}..{high * unit:g}; if the file holds "
                                  "0..1 values, import it with --format generic and --map field=column")
            outside = values.notna() & ~values.between(low, high)
            if outside.any():
                # In the file's own unit, so the message quotes the cell as the user sees it.
                raise RecsysError(f"{path}: {cell(df, outside, column)}: {raw[outside].iloc[0]:g} is outside {canonical}'s range {low * unit:g}..{high * unit:g}")
            out[canonical] = values
    return out


def _whole_numbers(series: pd.Series) -> pd.Series:
    """Numbers that are whole (3, "3.0"); NaN for anything else, which the caller reports: a
    pitch class of 3.6 is a column mix-up, not a key to round."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return pd.Series(np.nan, index=series.index)  # True is no pitch class; a mode reads it by name
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return values.where(values == values.round())


def key_number(series: pd.Series) -> pd.Series:
    """Pitch class 0..11 from whole numbers or letter names such as "C#/Db" or "F"."""
    letters = series.astype("string").str.split("/").str[0].str.strip().str.upper().map(KEY_NAMES)
    return _whole_numbers(series).fillna(letters.astype("float64"))


def mode_number(series: pd.Series) -> pd.Series:
    """1 major / 0 minor from 1/0, "Major"/"Minor" or true/false (a Parquet "is major" flag)."""
    words = series.astype("string").str.strip().str.lower().map({"major": 1.0, "minor": 0.0, "true": 1.0, "false": 0.0})
    return _whole_numbers(series).fillna(words.astype("float64"))


_BEATS = re.compile(r"^\s*(\d+)(?:\.0+)?\s*(?:/\s*\d+|beats?)?\s*$", re.IGNORECASE)


def beats(series: pd.Series) -> pd.Series:
    """Beats per bar from a whole cell such as 4, "4.0", "4 beats" or "4/4" ("-4" or "4.5" are none)."""
    return pd.to_numeric(series.astype("string").str.extract(_BEATS, expand=False), errors="coerce")


# Each categorical feature's parser, and what its cells should hold (for the error message).
CATEGORICAL_PARSERS: dict[str, tuple[Callable[[pd.Series], pd.Series], str]] = {
    "key": (key_number, "key (a pitch class 0..11 or a name such as C#)"),
    "mode": (mode_number, "mode (1/0 or Major/Minor)"),
    "time_signature": (beats, "time signature (beats per bar, such as 4 or 4/4)"),
}


def _categorical(df: pd.DataFrame, column: str, canonical: str, path: Path) -> pd.Series:
    """Key, mode or time signature as numbers; Spotify's "not detected" codes become missing and a
    present cell the parser cannot read is an error naming it."""
    raw = df[column]
    parse, form = CATEGORICAL_PARSERS[canonical]
    values = parse(raw)
    unread = values.isna() & present_cells(raw)
    if unread.any():
        raise RecsysError(f"{path}: {cell(df, unread, column)}: {shorten(str(raw[unread].iloc[0]))} is not a {form}")
    return values.mask(values == UNKNOWN_CODES.get(canonical))


def strip_quotes(series: pd.Series) -> pd.Series:
    """Drop the single quotes some scrapes wrap around every cell ("'There Goes My Baby'")."""
    return series.astype("string").str.strip().str.strip("'").str.strip()
