"""Spotify audio-feature CSVs in their several published column namings.

All end on the catalogue's scales: unit features 0..1 (Spotify-2000's 0..100 integers divided
by 100), loudness dB, tempo BPM, key 0..11 (letters such as "C#/Db" converted), mode 1/0
("Major"/"Minor" converted), time signature in beats ("4 beats" -> 4).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from recsys.schema import AUDIO_FEATURES, UNIT_FEATURES
from recsys.sources._read import one_label, single_cells, split_list, year_of
from recsys.sources.base import AUDIO_SPOTIFY, Adapter, audio

_SAME = {c: c for c in AUDIO_FEATURES}


def _first_artist(series: pd.Series) -> pd.Series:
    # Multi-artist cells ("ZAYN, PARTYNEXTDOOR") join other sources on the lead artist.
    return series.astype("string").str.split(",").str[0].str.strip()


def load_spotify_2000(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    columns = {
        "tempo": "Beats Per Minute (BPM)", "energy": "Energy", "danceability": "Danceability",
        "loudness": "Loudness (dB)", "liveness": "Liveness", "valence": "Valence",
        "acousticness": "Acousticness", "speechiness": "Speechiness",
    }
    out = audio(df, path, columns, scale={c: 100.0 for c in UNIT_FEATURES})
    out["title"], out["artist"] = df["Title"], df["Artist"]
    out["year"] = year_of(df["Year"]) if "Year" in df.columns else None
    out["genres_raw"] = one_label(single_cells(df, "Top Genre", path))
    return out


def load_playlists(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, _SAME)
    out["title"], out["artist"] = df["track_name"], _first_artist(df["track_artist"])
    if "track_album_release_date" in df.columns:
        out["year"] = year_of(df["track_album_release_date"])
    sub = df["playlist_subgenre"] if "playlist_subgenre" in df.columns else pd.Series(None, index=df.index)
    out["genres_raw"] = [[g for g in (a, b) if isinstance(g, str)] for a, b in zip(df["playlist_genre"], sub)]
    return out


def load_artist_genres(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, _SAME)
    out["title"], out["artist"] = df["track_name"], df["artist_name"]
    out["genres_raw"] = df["genres"].map(split_list)
    return out


def load_hot100(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["Song"], "artist": df["Performer"]})
    out["genres_raw"] = df["spotify_genre"].map(split_list)
    return out


def load_songs_normalize(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, _SAME)
    out["title"], out["artist"] = df["song"], df["artist"]
    out["year"] = year_of(df["year"]) if "year" in df.columns else None
    out["genres_raw"] = df["genre"].map(split_list)
    return out


def load_top_songs(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = audio(df, path, _SAME)
    out["title"], out["artist"] = df["track_name"], _first_artist(df["artist_names"])
    return out


ADAPTERS = [
    Adapter("spotify_2000", frozenset({"Title", "Artist", "Top Genre", "Beats Per Minute (BPM)"}), load_spotify_2000,
            audio_rank=AUDIO_SPOTIFY, description="Spotify-2000 (0..100 scales, BPM)"),
    Adapter("spotify_playlists", frozenset({"track_artist", "track_name", "playlist_genre", "energy"}), load_playlists,
            audio_rank=AUDIO_SPOTIFY, description="Spotify playlist tracks (high/low popularity)"),
    Adapter("spotify_artist_genres", frozenset({"artist_name", "track_name", "genres", "energy"}), load_artist_genres,
            audio_rank=AUDIO_SPOTIFY, description="Spotify features, one track per artist, with genres"),
    Adapter("hot100_genres", frozenset({"Performer", "Song", "spotify_genre"}), load_hot100,
            description="Billboard Hot 100 performer/song with Spotify genres"),
    Adapter("spotify_songs_normalize", frozenset({"artist", "song", "genre", "energy"}), load_songs_normalize,
            audio_rank=AUDIO_SPOTIFY, description="songs_normalize.csv (Spotify top hits 2000-2019)"),
    Adapter("spotify_top_songs", frozenset({"artist_names", "track_name", "energy"}), load_top_songs,
            audio_rank=AUDIO_SPOTIFY, description="Spotify top songs audio features (key letters, '4 beats')"),
]
