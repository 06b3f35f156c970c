"""Catalogue statistics: checked against hand-computed numbers, and the CLI's JSON and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from recsys.catalog import conform
from recsys.stats import _pct, catalog_stats


def _tiny() -> pd.DataFrame:
    return conform(pd.DataFrame({
        "song_id": ["a", "b", "c", "d", "e"],
        "title": list("ABCDE"),
        "artist": ["x"] * 5,
        "lyrics": ["la la love", None, "words", "  ", "more words"],
        "lyrics_kind": ["full", None, "bag_of_words", "full", "full"],
        "energy": [0.5, None, 0.2, None, None],
        "key": [None, None, None, 3, None],
        "mood": ["happy", "sad", None, "happy", None],
        "genres": [["pop", "rock"], ["rock"], [], ["jazz"], []],
        "source": [["musicmood"], ["moodylyrics", "musicmood"], ["spotify"], ["musicmood"], ["spotify"]],
        "split": ["train", "train", "train", "test", "train"],
    }))


def test_stats_match_hand_counts() -> None:
    stats = catalog_stats(_tiny())
    overall = stats["overall"]
    assert overall["songs"] == 5
    assert overall["sources"] == {"musicmood": 3, "spotify": 2, "moodylyrics": 1}
    cov = {k: v["count"] for k, v in overall["coverage"].items()}
    # lyrics: a, c, e (d is blank); audio: a, c, d; mood: a, b, d; genre: a, b, d.
    assert cov == {"lyrics": 3, "audio": 3, "mood": 3, "genre": 3, "lyrics+audio": 2, "lyrics+mood": 1,
                   "lyrics+genre": 1, "all": 1}
    assert overall["coverage"]["lyrics"]["pct"] == 60.0
    assert overall["lyrics_kind"] == {"full": 2, "bag_of_words": 1}
    assert overall["mood"] == {"happy": 2, "sad": 1, "angry": 0, "relaxed": 0}
    assert overall["genres"] == {"rock": 2, "jazz": 1, "pop": 1}
    assert overall["genres_per_song"] == {"0": 2, "1": 2, "2": 1}
    assert list(stats["splits"]) == ["train", "test"]
    test = stats["splits"]["test"]
    assert test["songs"] == 1 and test["coverage"]["lyrics"] == {"count": 0, "pct": 0.0}
    assert stats["splits"]["train"]["coverage"]["all"] == {"count": 1, "pct": 25.0}


def test_cli_json(demo_catalog_df: pd.DataFrame, demo_catalog_path: Path) -> None:
    from cli import app

    result = CliRunner().invoke(app, ["catalog", "stats", str(demo_catalog_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["synthetic"] is True
    assert data["overall"]["songs"] == len(demo_catalog_df)
    assert sum(s["songs"] for s in data["splits"].values()) == len(demo_catalog_df)
    assert data["overall"]["coverage"]["mood"]["count"] == int(demo_catalog_df["mood"].notna().sum())
    assert data["overall"]["sources"] == {"demo": len(demo_catalog_df)}


def test_cli_tables_say_synthetic(demo_catalog_path: Path) -> None:
    from cli import app

    result = CliRunner().invoke(app, ["catalog", "stats", str(demo_catalog_path)])
    assert result.exit_code == 0, result.output
    assert "synthetic demo catalogue" in result.stdout
    assert "coverage" in result.stdout and "lyrics+audio" in result.stdout


def test_cli_bad_files_exit_2(tmp_path: Path) -> None:
    from cli import app

    missing = CliRunner().invoke(app, ["catalog", "stats", str(tmp_path / "nope.parquet")])
    assert missing.exit_code == 2 and "no such catalogue file" in missing.output
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    bad = CliRunner().invoke(app, ["catalog", "stats", str(junk)])
    assert bad.exit_code == 2 and "not a readable Parquet catalogue" in bad.output
    assert "Traceback" not in bad.output


def test_names_in_the_tables_are_shown_as_written(tmp_path: Path) -> None:
    from cli import app
    from recsys.catalog import save_catalog

    df = _tiny()
    df["genres"] = [["[i]talo disco"], ["rock"], [], ["[/x]"], []]
    path = tmp_path / "[" / "old]" / "catalog[v2].parquet"  # ".../[/old]/...": rich would fail on that closing tag
    path.parent.mkdir(parents=True)
    save_catalog(df, path)
    result = CliRunner().invoke(app, ["catalog", "stats", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[/old]/catalog[v2].parquet" in result.stdout and "[i]talo disco" in result.stdout and "[/x]" in result.stdout


def test_a_part_never_reads_as_the_whole_or_as_nothing() -> None:
    assert (_pct(16_670, 16_671), _pct(1, 20_000), _pct(5, 5), _pct(0, 5), _pct(0, 0), _pct(1, 3)) == (99.9, 0.1, 100.0, 0.0, 0.0, 33.3)
