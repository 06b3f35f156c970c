"""Join source frames into one catalogue row per song, by ``recsys.catalog.song_key``.

Conflict rules (documented in data/SCHEMA.md): lyrics full > preprocessed > bag_of_words; audio
from the best-ranked source as a whole vector (Spotify scale > tcc min-max); mood explicit >
derived; year, title and artist from the first source in priority order that has them (title and
artist from the lyrics source when there is one; where that source lower-cased every name, the
case other sources spell them with, see recsys.sources.names); genres, raw moods and raw tags are
unions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from recsys.schema import AUDIO_FEATURES
from recsys.text import normalize_text, shorten
from recsys.sources.base import Adapter
from recsys.sources.names import capitalise, lowercased
from recsys.sources.tags import TagTable

_KIND_RANK = {"full": 3, "preprocessed": 2, "bag_of_words": 1}
_LIST_FIELDS = ("moods_raw", "genres_raw", "tags_raw")
# Notes that Genius prints where a song's lyrics are not out: "Lyrics for this song have yet to be
# released. Please check back once the song has been released.", "Lyrics will be available upon
# release. Stay tuned". Some open a snippet of the lyrics, which is kept without them. What is
# left, and stubs such as "[Instrumental]", "TBA", "Unreleased", "?" or "a", are no lyrics: kept as
# lyrics they would cluster together and match one another.
RELEASE_NOTE = re.compile(
    r"(?:full\s+|complete\s+)?lyrics?\s+(?:for\s+this\s+song\s+)?"
    r"(?:have\s+yet\s+to\s+be\s+released(?:\W+please\s+check\s+back\s+once\s+the\s+song\s+has\s+been\s+released)?"
    r"|(?:will\s+be\s+)?available\s+upon\s+release(?:\s+of\s+(?:the\s+)?song)?(?:\W+stay\s+tuned)?)[^\w\[(]*",
    re.IGNORECASE,
)
MIN_LYRIC_WORDS = 3


@dataclass
class SourceFrame:
    """One adapted file: the adapter that read it and its source frame (see recsys.sources.base)."""

    adapter: Adapter
    frame: pd.DataFrame


@dataclass
class RecasedNames:
    """The songs a source that lower-cased every name names, and how many of their titles and
    artists took the case another source spells them with (the rest were capitalised)."""

    songs: int
    titles_spelt: int
    artists_spelt: int


@dataclass
class JoinStats:
    """What the join did, for the CLI's warning lines."""

    duplicates: dict[str, int] = field(default_factory=dict)
    swapped: dict[str, int] = field(default_factory=dict)
    dropped_unmatched: int = 0
    nameless: dict[str, int] = field(default_factory=dict)  # rows without a title or an artist, dropped
    placeholder_lyrics: dict[str, int] = field(default_factory=dict)
    mood_conflicts: int = 0  # songs whose sources (or rows) give different moods
    mood_ties: int = 0  # of them, songs whose best-ranked labels disagree: source priority and file order decide
    mood_conflict_example: str = ""  # one of them: "'title' by artist: sad (src), happy (src)"
    recased: dict[str, RecasedNames] = field(default_factory=dict)  # per source that lower-cased its names


def _clean(series: pd.Series) -> pd.Series:
    s = series.astype("string").str.strip()
    return s.mask(s == "")


def _placeholder(lyrics: pd.Series) -> pd.Series:
    """Rows whose lyrics are a stub of fewer than ``MIN_LYRIC_WORDS`` words."""
    return lyrics.notna() & (lyrics.fillna("").str.count(r"\w+") < MIN_LYRIC_WORDS)


def _stack(frames: list[SourceFrame], priority: dict[str, int], stats: JoinStats) -> pd.DataFrame:
    parts = []
    for sf in frames:
        f = sf.frame.copy()
        for col in ["year", "lyrics", "lyrics_kind", "mood_label", *AUDIO_FEATURES]:
            if col not in f:
                f[col] = None
        for col in _LIST_FIELDS:
            if col not in f or f[col].isna().all():
                f[col] = [[] for _ in range(len(f))]
        f["title"], f["artist"], f["lyrics"] = _clean(f["title"]), _clean(f["artist"]), _clean(f["lyrics"])
        f["lyrics"] = f["lyrics"].str.replace(RELEASE_NOTE, "", regex=True)
        placeholder = _placeholder(f["lyrics"])
        if placeholder.any():
            stats.placeholder_lyrics[sf.adapter.name] = stats.placeholder_lyrics.get(sf.adapter.name, 0) + int(placeholder.sum())
            f["lyrics"] = f["lyrics"].mask(placeholder)
        f["_src"] = sf.adapter.name
        f["_case_lost"] = lowercased(f)
        f["_order"] = priority[sf.adapter.name]
        f["_audio_rank"] = sf.adapter.audio_rank
        f["_mood_rank"] = sf.adapter.mood_rank
        parts.append(f)  # rows without a title or an artist are dropped (and counted) by join_sources
    df = pd.concat(parts, ignore_index=True)
    df["year"] = pd.to_numeric(df["year"], errors="coerce")
    for col in AUDIO_FEATURES:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def _normalised(values: pd.Series) -> pd.Series:
    # Object dtype: the keys feed set lookups and isin, which are slow on Arrow strings.
    uniques = values.unique()
    return values.map(dict(zip(uniques, (normalize_text(v) for v in uniques)))).astype(object)


def _swap_if_known(df: pd.DataFrame, stats: JoinStats) -> pd.DataFrame:
    """Swap title and artist on rows whose own key is nobody else's while their swapped key is a
    song of a higher-priority source: some scrapes put the title in the artist column. Requiring
    higher priority keeps two mutually swapped sources from both flipping."""
    swapped_key = df["_t"] + "||" + df["_a"]
    alone = df.groupby("_key")["_src"].transform("nunique").eq(1)
    candidates = alone & swapped_key.isin(df["_key"].unique()) & swapped_key.ne(df["_key"])
    best_order = df[df["_key"].isin(swapped_key[candidates].unique())].groupby(["_key", "_src"])["_order"].min()
    orders_of: dict[str, dict[str, int]] = {}
    for (key, src), order in best_order.items():
        orders_of.setdefault(key, {})[src] = order
    swap = np.zeros(len(df), dtype=bool)
    for i in np.flatnonzero(candidates.to_numpy()):
        src, order = df["_src"].iat[i], df["_order"].iat[i]
        others = [o for s, o in orders_of.get(swapped_key.iat[i], {}).items() if s != src]
        swap[i] = bool(others) and min(others) < order
    if swap.any():
        df.loc[swap, ["title", "artist"]] = df.loc[swap, ["artist", "title"]].to_numpy()
        df.loc[swap, "_key"] = swapped_key[swap]
        stats.swapped = df.loc[swap, "_src"].value_counts().to_dict()
    return df


def _best(df: pd.DataFrame, mask: pd.Series, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    return df[mask].sort_values(by, ascending=ascending, kind="stable").drop_duplicates("_key").set_index("_key")


def _union(df: pd.DataFrame, column: str) -> pd.Series:
    exploded = df[["_key", column]].explode(column).dropna().drop_duplicates()
    return exploded.groupby("_key", sort=False)[column].agg(list)


def _spellings(keys: pd.Series, names: pd.Series, order: pd.Series) -> pd.Series:
    """Lookup key -> the spelling most rows give it (ties: source priority)."""
    rows = pd.DataFrame({"key": keys, "name": names, "order": order})
    counts = rows.groupby(["key", "name"], sort=False)["order"].agg(["size", "min"]).reset_index()
    return counts.sort_values(["size", "min"], ascending=[False, True], kind="stable").drop_duplicates("key").set_index("key")["name"]


@dataclass
class CaseSpellings:
    """How sources that kept case spell names, for the songs named by a source that lost it."""

    artists: pd.Series  # lower-cased artist -> spelling
    titles: pd.Series  # song key + lower-cased title -> spelling (a title is looked up per song)

    @classmethod
    def of(cls, df: pd.DataFrame) -> CaseSpellings:
        kept = df.loc[~df["_case_lost"]]
        return cls(_spellings(kept["artist"].str.lower(), kept["artist"], kept["_order"]),
                   _spellings(kept["_key"] + "|" + kept["title"].str.lower(), kept["title"], kept["_order"]))


def _restore_case(named: pd.DataFrame, spellings: CaseSpellings, stats: JoinStats) -> pd.Series:
    """Give the names of ``named`` (title, artist, _src, _case_lost; indexed by song key) whose
    source lost their case the case another source spells them with, or else capitalise them
    (recsys.sources.names). Only case changes. Returns, per song, how each name was recased."""
    lost = named["_case_lost"].astype(bool)
    how = pd.Series(None, index=named.index, dtype=object)
    if not lost.any():
        return how
    title_keys = named.index[lost] + "|" + named.loc[lost, "title"].str.lower()
    found = {"title": spellings.titles.reindex(title_keys).to_numpy(),
             "artist": spellings.artists.reindex(named.loc[lost, "artist"].str.lower()).to_numpy()}
    for column, spelt in found.items():
        known = pd.notna(spelt)
        named.loc[lost, column] = np.where(known, spelt, named.loc[lost, column].map(capitalise).to_numpy())
        found[column] = np.where(known, "other sources", "capitalised")
    how[lost] = [{"title": t, "artist": a} for t, a in zip(found["title"], found["artist"])]
    for src, songs in pd.DataFrame(found, index=named.index[lost]).eq("other sources").groupby(named.loc[lost, "_src"]):
        stats.recased[src] = RecasedNames(len(songs), int(songs["title"].sum()), int(songs["artist"].sum()))
    return how


def _count_mood_conflicts(df: pd.DataFrame, stats: JoinStats) -> None:
    labelled = df[df["_mood"].notna()]
    moods = labelled.groupby("_key", sort=False)["_mood"].nunique()
    conflicting = moods.index[moods > 1]
    stats.mood_conflicts = len(conflicting)
    best = labelled[labelled["_mood_rank"] == labelled.groupby("_key", sort=False)["_mood_rank"].transform("max")]
    stats.mood_ties = int((best.groupby("_key", sort=False)["_mood"].nunique() > 1).sum())
    if stats.mood_conflicts:
        rows = labelled[labelled["_key"] == conflicting[0]].sort_values("_order", kind="stable")
        labels = ", ".join(f"{mood} ({src})" for mood, src in zip(rows["_mood"], rows["_src"]))
        stats.mood_conflict_example = f"{shorten(rows['title'].iloc[0])} by {shorten(rows['artist'].iloc[0])}: {labels}"


def join_sources(
    frames: list[SourceFrame],
    tags: TagTable,
    *,
    priority: dict[str, int],
    keep_unmatched: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, JoinStats]:
    """One row per song key, fields resolved by the conflict rules; not yet conformed or split."""
    stats = JoinStats()
    df = _stack(frames, priority, stats)
    df["_a"], df["_t"] = _normalised(df["artist"]), _normalised(df["title"])
    named = df["title"].notna() & df["artist"].notna() & (df["_a"] != "") & (df["_t"] != "")
    stats.nameless = df.loc[~named, "_src"].value_counts().to_dict()
    df = df[named]
    df["_key"] = df["_a"] + "||" + df["_t"]
    dup = df.duplicated(["_src", "_key"])
    stats.duplicates = df.loc[dup, "_src"].value_counts().to_dict()
    df = _swap_if_known(df, stats)
    spellings = CaseSpellings.of(df)  # before unmatched rows go: label-only sources spell many artists
    if not keep_unmatched:
        lyric_keys = df.loc[df["lyrics"].notna(), "_key"].unique()
        keep = df["_key"].isin(lyric_keys)
        stats.dropped_unmatched = int(df.loc[~keep, "_key"].nunique())
        df = df[keep]
    df = df.reset_index(drop=True)
    if on_progress:
        on_progress("canonicalising tags")
    df["_mood"] = df["mood_label"].map(tags.mood)
    df["_genres"] = df["genres_raw"].map(tags.genres)
    df["_tags"] = [g + t for g, t in zip(df["genres_raw"], df["tags_raw"])]
    df["_kind_rank"] = df["lyrics_kind"].map(_KIND_RANK).fillna(0)
    df["_n_audio"] = df[AUDIO_FEATURES].notna().sum(axis=1)

    if on_progress:
        on_progress("resolving conflicts")
    _count_mood_conflicts(df, stats)
    first = df.sort_values("_order", kind="stable").drop_duplicates("_key").set_index("_key")
    out = pd.DataFrame(index=first.index)
    lyr = _best(df, df["lyrics"].notna(), ["_kind_rank", "_order"], [False, True])
    aud = _best(df, df["_n_audio"] > 0, ["_audio_rank", "_n_audio", "_order"], [False, False, True])
    mood = _best(df, df["_mood"].notna(), ["_mood_rank", "_order"], [False, True])
    year = _best(df, df["year"].notna(), ["_order"], [True])
    columns = ["title", "artist", "_src", "_case_lost"]
    named = lyr[columns].combine_first(first[columns])
    recased = _restore_case(named, spellings, stats)
    out["title"], out["artist"] = named["title"], named["artist"]
    out["year"] = year["year"]
    out["lyrics"], out["lyrics_kind"] = lyr["lyrics"], lyr["lyrics_kind"]
    for col in AUDIO_FEATURES:
        out[col] = aud[col]
    out["audio_source"] = aud["_src"]
    out["mood"] = mood["_mood"]
    empty = pd.Series([[] for _ in range(len(out))], index=out.index)
    out["moods_raw"] = _union(df, "moods_raw").reindex(out.index).fillna(empty)
    out["genres"] = _union(df, "_genres").reindex(out.index).fillna(empty).map(sorted)
    out["tags_raw"] = _union(df, "_tags").reindex(out.index).fillna(empty)
    srcs = df.sort_values("_order", kind="stable")
    out["source"] = srcs.drop_duplicates(["_key", "_src"]).groupby("_key")["_src"].agg(list).reindex(out.index)
    genre_src = srcs[srcs["_genres"].str.len() > 0].drop_duplicates(["_key", "_src"]).groupby("_key")["_src"].agg(list)
    picks = pd.DataFrame({
        "title": named["_src"], "artist": named["_src"], "year": year["_src"], "lyrics": lyr["_src"],
        "audio": aud["_src"], "mood": mood["_src"],
    }).reindex(out.index)
    genre_src = genre_src.reindex(out.index)
    out["provenance"] = [
        json.dumps({**{k: v for k, v in row.items() if isinstance(v, str)}, **({"genres": g} if isinstance(g, list) else {}),
                    **({"recased": r} if isinstance(r, dict) else {})}, sort_keys=True)
        for row, g, r in zip(picks.to_dict("records"), genre_src, recased.reindex(out.index))
    ]
    return out.reset_index(drop=True), stats
