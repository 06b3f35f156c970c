"""What a catalogue holds: sources, coverage of lyrics/audio/labels, label distributions, per split.

:func:`catalog_stats` returns plain JSON-ready data; :func:`render_stats` draws it as rich tables.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from recsys.catalog import has_lyrics
from recsys.schema import AUDIO_FEATURES, MOODS, SPLITS
from recsys.text import counted


def _pct(count: int, total: int) -> float:
    """``count`` in percent of ``total`` to 0.1, except that a part short of the whole never reads
    100.0 nor a part above none 0.0 (16,670 of 16,671 songs is 99.9%)."""
    if not total:
        return 0.0
    pct = round(100.0 * count / total, 1)
    return min(max(pct, 0.1), 99.9) if 0 < count < total else pct


def _section(df: pd.DataFrame) -> dict[str, Any]:
    n = len(df)
    lyrics = has_lyrics(df)
    # A song has audio when any feature is present: sources often carry only some of them.
    audio = df[AUDIO_FEATURES].notna().any(axis=1).to_numpy(dtype=bool)
    mood = df["mood"].notna().to_numpy(dtype=bool)
    n_genres = df["genres"].map(len).to_numpy()
    genre = n_genres > 0
    masks = {
        "lyrics": lyrics, "audio": audio, "mood": mood, "genre": genre,
        "lyrics+audio": lyrics & audio, "lyrics+mood": lyrics & mood, "lyrics+genre": lyrics & genre,
        "all": lyrics & audio & mood & genre,
    }
    sources = df["source"].explode().dropna().value_counts()
    genres = df["genres"].explode().dropna().value_counts()
    moods = df["mood"].dropna().value_counts()
    kinds = df["lyrics_kind"][lyrics].dropna().value_counts()
    per_song = pd.Series(n_genres).value_counts().sort_index()
    return {
        "songs": n,
        "sources": {str(k): int(v) for k, v in sources.items()},
        "coverage": {k: {"count": int(m.sum()), "pct": _pct(int(m.sum()), n)} for k, m in masks.items()},
        "lyrics_kind": {str(k): int(v) for k, v in kinds.items()},
        # Every canonical mood is listed, so a mood absent from a split shows as 0.
        "mood": {m: int(moods.get(m, 0)) for m in MOODS},
        "genres": {str(k): int(v) for k, v in sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))},
        "genres_per_song": {str(k): int(v) for k, v in per_song.items()},
    }


def catalog_stats(df: pd.DataFrame) -> dict[str, Any]:
    """Sources, coverage (counts and %), lyrics kinds and label distributions, overall and per split.

    Returns ``{"overall": section, "splits": {split: section}}``; each section has ``songs``,
    ``sources``, ``coverage`` (lyrics, audio, mood, genre, lyrics+audio, lyrics+mood,
    lyrics+genre, all), ``lyrics_kind``, ``mood``, ``genres`` and ``genres_per_song``.
    """
    split = df["split"].fillna("unassigned").astype(str)
    names = [s for s in SPLITS if (split == s).any()] + sorted(set(split) - set(SPLITS))
    return {
        "overall": _section(df),
        "splits": {name: _section(df[(split == name).to_numpy()]) for name in names},
    }


def _table(title: str, stats: dict[str, Any], rows: list[str], field: str, pct: bool = False) -> Table:
    columns = ["overall", *stats["splits"]]
    sections = [stats["overall"], *stats["splits"].values()]
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for name in columns:
        table.add_column(escape(name), justify="right")
    for row in rows:
        cells = []
        for sec in sections:
            value = sec[field].get(row, {"count": 0, "pct": 0.0} if pct else 0)
            cells.append(f"{value['count']} ({value['pct']:.1f}%)" if pct else str(value))
        table.add_row(escape(str(row)), *cells)  # sources and labels are data: "[i]talo" is no markup
    return table


def render_stats(stats: dict[str, Any], console: Console, *, title: str = "catalogue") -> None:
    """Print ``stats`` (from :func:`catalog_stats`) as rich tables, one column per split."""
    overall = stats["overall"]
    console.print(f"[bold]{escape(title)}[/bold]: {counted(overall['songs'], 'song')}, "
                  + escape(", ".join(f"{k} {v['songs']}" for k, v in stats["splits"].items())))
    console.print(_table("songs per source", stats, list(overall["sources"]), "sources"))
    console.print(_table("coverage", stats, list(overall["coverage"]), "coverage", pct=True))
    console.print(_table("lyrics kind", stats, list(overall["lyrics_kind"]), "lyrics_kind"))
    console.print(_table("mood", stats, list(overall["mood"]), "mood"))
    console.print(_table("genres", stats, list(overall["genres"]), "genres"))
    console.print(_table("genres per song", stats, list(overall["genres_per_song"]), "genres_per_song"))
