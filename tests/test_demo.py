"""The synthetic demo catalogue: deterministic, schema-conformant, realistic gaps, real signal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from recsys.catalog import catalog_metadata, load_catalog, save_catalog
from recsys.schema import COLUMNS, UNIT_FEATURES
from recsys.demo import GENRES, generate_demo
from recsys.errors import RecsysError
from recsys.text import tokenize


def test_same_seed_same_frame_different_seed_differs(demo_catalog_df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate_demo(n=600, seed=0), demo_catalog_df)
    other = generate_demo(n=600, seed=1)
    assert (other["lyrics"] != demo_catalog_df["lyrics"]).mean() > 0.99
    assert set(other["song_id"]) != set(demo_catalog_df["song_id"])


def test_round_trips_through_save_and_load(demo_catalog_df: pd.DataFrame, demo_catalog_path: Path) -> None:
    loaded = load_catalog(demo_catalog_path)
    assert list(loaded.columns) == COLUMNS
    pd.testing.assert_frame_equal(loaded, demo_catalog_df)


def test_values_on_canonical_scales(demo_catalog_df: pd.DataFrame) -> None:
    df = demo_catalog_df
    audio = df[df["audio_source"].notna()]
    assert audio[UNIT_FEATURES].ge(0).all().all() and audio[UNIT_FEATURES].le(1).all().all()
    assert audio["loudness"].between(-60, 0).all() and audio["tempo"].between(50, 220).all()
    assert set(audio["key"]) <= set(range(12)) and set(audio["mode"]) == {0, 1}
    assert set(audio["time_signature"]) <= {3, 4, 5}
    assert df["year"].between(1960, 2023).all()
    words = df["lyrics"].str.split().str.len()
    assert words.between(80, 300).all() and (words > 250).any()  # long ones need several chunks
    assert (df["lyrics_kind"] == "full").all() and df["source"].map(lambda s: s == ["demo"]).all()
    assert set(df["genres"].explode().dropna()) <= set(GENRES)
    # A plain loop: Series.map would turn the dicts into an Arrow struct with every key present.
    has_audio = [("audio" in json.loads(p)) for p in df["provenance"]]
    assert has_audio == df["audio_source"].notna().tolist()


def test_missing_value_rates(demo_catalog_df: pd.DataFrame) -> None:
    df = demo_catalog_df
    n_genres = df["genres"].map(len)
    assert abs(df["danceability"].isna().mean() - 0.15) < 0.05
    assert abs(df["mood"].isna().mean() - 0.20) < 0.05
    assert abs((n_genres == 0).mean() - 0.10) < 0.04
    assert abs((n_genres > 1).sum() / (n_genres > 0).sum() - 0.25) < 0.06
    assert set(df["mood"].dropna()) == {"happy", "sad", "angry", "relaxed"}
    assert set(df["split"]) == {"train", "val", "test"}


def test_titles_and_artists(demo_catalog_df: pd.DataFrame) -> None:
    df = demo_catalog_df
    assert not df.duplicated(["artist", "title"]).any()
    shared = df.groupby("title")["artist"].nunique()
    assert (shared > 1).any()  # some titles need the artist to disambiguate
    assert (shared > 1).mean() < 0.1
    assert df.groupby("artist").size().median() >= 3


def _nearest_neighbour_agreement(lyrics: pd.Series, labels: np.ndarray) -> tuple[float, float]:
    """Share of songs whose TF-IDF nearest neighbour has the same label, and the chance rate."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(analyzer=tokenize).fit_transform(lyrics)
    sim = (x @ x.T).toarray()
    np.fill_diagonal(sim, -1)
    chance = float((pd.Series(labels).value_counts(normalize=True) ** 2).sum())
    return float((labels[sim.argmax(axis=1)] == labels).mean()), chance


def test_genres_and_moods_separable_but_not_trivially(demo_catalog_df: pd.DataFrame) -> None:
    single = demo_catalog_df[demo_catalog_df["genres"].map(len) == 1]
    same, chance = _nearest_neighbour_agreement(single["lyrics"], single["genres"].str[0].to_numpy())
    assert chance + 0.4 < same < 0.95  # noise and cross-genre bleed keep it from being trivial
    moody = demo_catalog_df[demo_catalog_df["mood"].notna()]
    same, chance = _nearest_neighbour_agreement(moody["lyrics"], moody["mood"].to_numpy(dtype=object))
    assert chance + 0.25 < same < 0.95


def test_audio_follows_mood(demo_catalog_df: pd.DataFrame) -> None:
    means = demo_catalog_df.groupby("mood")[["valence", "energy"]].mean()
    assert means.loc["happy", "valence"] > means.loc["sad", "valence"] + 0.2
    assert means.loc["angry", "energy"] > means.loc["relaxed", "energy"] + 0.2


def test_rejects_empty_size() -> None:
    for n in (0, 100_001):
        with pytest.raises(RecsysError, match=f"must be between 1 and 100,000, got {n}"):
            generate_demo(n=n)


def test_cli_writes_labelled_synthetic_catalogue(tmp_path: Path) -> None:
    from cli import app

    out = tmp_path / "demo.parquet"
    result = CliRunner().invoke(app, ["catalog", "demo", "--out", str(out), "--n", "40", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert len(load_catalog(out)) == 40
    meta = catalog_metadata(out)
    assert meta["synthetic"] == "true" and meta["generator"] == "recsys.demo"
    assert meta["seed"] == "3" and meta["n"] == "40"


def test_catalogue_format_tags_other_than_ours_fail_with_one_line(demo_catalog_df: pd.DataFrame, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(save_catalog(demo_catalog_df.head(5), tmp_path / "c.parquet"))
    for tag, message in ((b"2", "catalogue format '2', this recsys reads 1"), (b"v1-beta", "catalogue format 'v1-beta'")):
        pq.write_table(table.replace_schema_metadata({**table.schema.metadata, b"recsys.catalog_format": tag}), tmp_path / "c.parquet")
        with pytest.raises(RecsysError, match=message):
            load_catalog(tmp_path / "c.parquet")


def test_artist_names_stay_unique_past_the_word_lists() -> None:
    from recsys.demo import _artists
    from recsys.text import normalize_text

    # 30,000 artists outnumber the names the word lists can make; a short patience numbers them
    # quickly instead of drawing forever.
    names = _artists(np.random.default_rng(0), 30_000, patience=5)
    assert len({normalize_text(n) for n in names}) == 30_000
    assert any(n.split()[-1].isdigit() for n in names)
