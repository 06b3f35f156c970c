"""The canonical catalogue schema: column names, audio features and label sets.

Kept apart from ``recsys.catalog`` (which needs pandas) so that the query path can name
columns without importing pandas. ``data/SCHEMA.md`` documents each column.
"""

from __future__ import annotations

# Audio features on one scale each (see data/SCHEMA.md): the first seven in 0..1, loudness in
# dB (about -60..0), tempo in BPM, key as pitch class 0..11, mode 1 major / 0 minor,
# time_signature as beats per bar.
UNIT_FEATURES = [
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
]
CONTINUOUS_FEATURES = UNIT_FEATURES + ["loudness", "tempo"]
CATEGORICAL_FEATURES = ["key", "mode", "time_signature"]
# Values outside these are data errors (a column on another scale, a unit mix-up), not music.
# Time signatures count beats per bar: Spotify gives 1 and 3..7, a "12/8" reads as 12.
FEATURE_RANGES = {
    **{name: (0.0, 1.0) for name in UNIT_FEATURES}, "loudness": (-100.0, 10.0), "tempo": (0.0, 400.0),
    "key": (0.0, 11.0), "mode": (0.0, 1.0), "time_signature": (1.0, 12.0),
}
# Spotify's codes for "not detected" (key -1, time signature 0): read as missing, not as errors.
UNKNOWN_CODES = {"key": -1.0, "time_signature": 0.0}
AUDIO_FEATURES = CONTINUOUS_FEATURES + CATEGORICAL_FEATURES

MOODS = ["happy", "sad", "angry", "relaxed"]
LYRICS_KINDS = ["full", "preprocessed", "bag_of_words"]
SPLITS = ["train", "val", "test"]

STRING_COLUMNS = ["song_id", "title", "artist", "lyrics", "lyrics_kind", "audio_source", "mood", "split", "provenance"]
LIST_COLUMNS = ["moods_raw", "genres", "tags_raw", "source"]
COLUMNS = (
    ["song_id", "title", "artist", "year", "lyrics", "lyrics_kind"]
    + AUDIO_FEATURES
    + ["audio_source", "mood", "moods_raw", "genres", "tags_raw", "source", "provenance", "split"]
)
# A saved catalogue lacking one of these was edited by hand: conform would fill it with nulls.
REQUIRED_COLUMNS = ["song_id", "title", "artist", "split"]
