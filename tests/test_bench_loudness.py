"""bench.loudness pairs tcc's scaled loudness with the Spotify dB of the same songs."""

from pathlib import Path

import pandas as pd

from bench.loudness import loudness_by_song


def test_songs_in_both_kinds_of_source_pair_by_match_key(tmp_path: Path) -> None:
    tcc = [{"artist_name": "The Band", "track_name": "Night Song", "genre": "pop", "topic": "x", "lyrics": "some words here",
            "loudness": 0.5},
           {"artist_name": "Solo", "track_name": "Alone", "genre": "pop", "topic": "x", "lyrics": "other words", "loudness": 0.9}]
    spotify = [{"track_artist": "Band", "track_name": "Night song", "playlist_genre": "pop", "energy": 0.7, "loudness": -6.0},
               {"track_artist": "band", "track_name": "NIGHT SONG", "playlist_genre": "pop", "energy": 0.7, "loudness": -8.0}]
    pd.DataFrame(tcc).to_csv(tmp_path / "tcc.csv", index=False)
    pd.DataFrame(spotify).to_csv(tmp_path / "playlists.csv", index=False)
    scaled, decibels = loudness_by_song(tmp_path)
    # tcc keeps its own 0..1 values (not the import's dB); the song's two Spotify rows are averaged.
    assert scaled.sort_values().tolist() == [0.5, 0.9]
    shared = scaled.index.intersection(decibels.index)
    assert len(shared) == 1 and scaled[shared[0]] == 0.5 and decibels[shared[0]] == -7.0
