"""AudioFeatures: scaling fitted on train only, one-hots, missing-mask, round-trip, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.catalog import conform
from recsys.schema import CATEGORICAL_FEATURES, CONTINUOUS_FEATURES
from recsys.errors import RecsysError
from training.features import AudioFeatures


@pytest.fixture()
def songs() -> pd.DataFrame:
    """A conformed catalogue of 200 songs on the documented scales, some audio missing."""
    rng = np.random.default_rng(3)
    n = 200
    df = pd.DataFrame({"song_id": [f"s{i}" for i in range(n)], "title": "t", "artist": "a"})
    for c in CONTINUOUS_FEATURES[:7]:
        df[c] = rng.uniform(0, 1, n)
    df["loudness"] = rng.normal(-8, 3, n)
    df["tempo"] = rng.normal(120, 25, n)
    df["key"] = rng.integers(0, 12, n)
    df["mode"] = rng.integers(0, 2, n)
    df["time_signature"] = rng.choice([3, 4], n, p=[0.2, 0.8])
    df.loc[::10, "energy"] = np.nan
    df.loc[::7, "key"] = None
    df["split"] = np.where(np.arange(n) < 150, "train", "test")
    return conform(df)


def test_scaling_is_fitted_on_train_only(songs: pd.DataFrame) -> None:
    train = songs[songs["split"] == "train"]
    # Shift the test rows far away: they must not move the training statistics.
    songs.loc[songs["split"] == "test", "tempo"] += 500
    feats = AudioFeatures.fit(train)
    x = feats.transform(train)
    cont = x[:, : len(CONTINUOUS_FEATURES)]
    observed = ~np.isnan(train[CONTINUOUS_FEATURES].to_numpy(dtype=float))
    for j in range(len(CONTINUOUS_FEATURES)):
        assert abs(cont[observed[:, j], j].mean()) < 1e-5
        assert cont[observed[:, j], j].std() == pytest.approx(1.0, abs=1e-4)
    assert feats.mean["tempo"] == pytest.approx(train["tempo"].mean())
    test_x = feats.transform(songs[songs["split"] == "test"])
    tempo = feats.names.index("tempo")
    assert np.all(test_x[:, tempo] == feats.clip)  # +500 BPM is far past 5 sd: clipped


def test_layout_one_hot_and_mask(songs: pd.DataFrame) -> None:
    feats = AudioFeatures.fit(songs)
    x = feats.transform(songs)
    names = feats.names
    assert x.dtype == np.float32 and x.shape == (len(songs), feats.dim) == (len(songs), len(names))
    assert feats.dim == 9 + 12 + 2 + 3 + 12  # time signatures 3, 4 and "other"
    key = x[:, names.index("key=0") : names.index("key=11") + 1]
    key_missing = songs["key"].isna().to_numpy()
    assert np.all(key[~key_missing].sum(axis=1) == 1) and np.all(key[key_missing] == 0)
    assert np.array_equal(x[:, names.index("missing:key")], key_missing.astype(np.float32))
    energy_missing = songs["energy"].isna().to_numpy()
    assert np.array_equal(x[:, names.index("missing:energy")], energy_missing.astype(np.float32))
    assert np.all(x[energy_missing, names.index("energy")] == 0)  # imputed as the training mean
    row = int(np.flatnonzero(~key_missing)[0])
    assert x[row, names.index(f"key={int(songs['key'][row])}")] == 1
    odd = songs.head(2).copy()
    odd["time_signature"] = pd.array([5, None], dtype="Int64")
    y = feats.transform(odd)
    assert y[0, names.index("time_signature=other")] == 1 and y[0, names.index("missing:time_signature")] == 0
    assert y[1, names.index("missing:time_signature")] == 1


def test_song_without_audio_transforms(songs: pd.DataFrame) -> None:
    feats = AudioFeatures.fit(songs)
    bare = pd.DataFrame({"song_id": ["x"], "title": ["t"], "artist": ["a"]})
    x = feats.transform(bare)
    mask_cols = [i for i, n in enumerate(feats.names) if n.startswith("missing:")]
    assert x.shape == (1, feats.dim)
    assert np.all(x[0, mask_cols] == 1)
    assert np.all(np.delete(x[0], mask_cols) == 0)
    assert len(mask_cols) == len(CONTINUOUS_FEATURES) + len(CATEGORICAL_FEATURES)


def test_save_load_round_trip(songs: pd.DataFrame, tmp_path: Path) -> None:
    feats = AudioFeatures.fit(songs[songs["split"] == "train"])
    path = feats.save(tmp_path / "m" / "features.json")
    again = AudioFeatures.load(path)
    assert again.names == feats.names
    assert np.array_equal(again.transform(songs), feats.transform(songs))


def test_bad_files_and_values_raise_one_line(songs: pd.DataFrame, tmp_path: Path) -> None:
    feats = AudioFeatures.fit(songs)
    path = feats.save(tmp_path / "features.json")
    with pytest.raises(RecsysError, match="no such"):
        AudioFeatures.load(tmp_path / "absent.json")
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(RecsysError, match="format 99"):
        AudioFeatures.load(path)
    path.write_text(json.dumps({k: v for k, v in data.items() if k != "std"}))
    with pytest.raises(RecsysError, match="incomplete"):
        AudioFeatures.load(path)
    path.write_text("{not json")
    with pytest.raises(RecsysError, match="unreadable"):
        AudioFeatures.load(path)
    bad = pd.DataFrame({"tempo": [120.0, "fast"]})
    with pytest.raises(RecsysError, match=r"'tempo', row 2: 'fast'"):
        feats.transform(bad)
    with pytest.raises(RecsysError, match="empty"):
        AudioFeatures.fit(songs.head(0))


def test_errors_quote_a_bad_cell_but_never_a_whole_lyric(songs: pd.DataFrame) -> None:
    from recsys.catalog import validate

    lyric = "walking in the rain " * 50  # a lyrics column mapped where a number or a mood goes
    bad = songs.copy()
    bad["energy"] = bad["energy"].astype(object)
    bad.loc[bad.index[0], "energy"] = lyric
    with pytest.raises(RecsysError, match="'walking in the rain walking in the ra\\.\\.\\.' is not a finite number") as info:
        AudioFeatures.fit(bad)
    assert len(str(info.value)) < 150
    bad = songs.copy()
    bad["mood"] = bad["mood"].astype(object)
    bad.loc[bad.index[0], "mood"] = lyric
    with pytest.raises(RecsysError, match="unknown mood 'walking in the rain") as info:
        validate(bad)
    assert len(str(info.value)) < 150
