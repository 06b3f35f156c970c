"""Import public music datasets (and the user's own CSV/Parquet) into one canonical catalogue.

``import_sources(paths)`` detects each file's format from its header columns (or takes
``fmt``), adapts every file to a source frame, joins them on ``recsys.catalog.song_key`` with
the conflict rules of data/SCHEMA.md, canonicalises tags and assigns deterministic splits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import pandas as pd

from recsys.catalog import assign_splits, conform, is_catalogue, song_id
from recsys.errors import RecsysError
from recsys.progress import progress
from recsys.schema import MOODS, SPLITS
from recsys.text import counted, shorten
from recsys.sources import (
    bow_lyrics, deezer, generic, genius_lyrics, genius_tags, millsong, moodylyrics, musicmood, open_lyrics, panda,
    playlist_moods, spotify, tcc,
)
from recsys.sources._read import NOTES, TABLE_SUFFIXES, read_table, require, text_fields
from recsys.sources.base import Adapter
from recsys.sources.join import MIN_LYRIC_WORDS, SourceFrame, join_sources
from recsys.sources.tags import load_tag_table

# Priority order breaks ties inside a conflict rank: the user's own file first, then sources with
# explicit mood labels (MoodyLyrics' four classes before MusicMood's two), lyrics, audio, tags.
ADAPTERS: list[Adapter] = [
    moodylyrics.LYRICS, moodylyrics.LABELS, musicmood.ADAPTER, genius_lyrics.ADAPTER, open_lyrics.ADAPTER,
    millsong.ADAPTER, tcc.ADAPTER, bow_lyrics.ADAPTER, *spotify.ADAPTERS, playlist_moods.ADAPTER,
    panda.ADAPTER, deezer.ADAPTER, genius_tags.ADAPTER,
]
FORMATS = ["generic"] + [a.name for a in ADAPTERS]

__all__ = ["ADAPTERS", "FORMATS", "detect_format", "import_sources"]


def detect_format(columns: list[str]) -> Adapter | None:
    """The first adapter whose signature columns ``columns`` all hold (ADAPTERS' priority order)."""
    header = set(columns)
    return next((a for a in ADAPTERS if a.signature <= header), None)


def _files(paths: list[Path], warn: Callable[[str], None]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) pairs; directories expand to their table files, sorted. A file
    reached twice (named twice, or named and inside a named folder) is read once."""
    out: dict[Path, tuple[Path, bool]] = {}
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in TABLE_SUFFIXES and (p.is_file() or p.is_symlink()))
            broken = [p for p in found if not p.is_file()]
            if broken:
                warn(f"{broken[0]}: a link to nothing ({counted(len(broken), 'such file')} in {path}); skipped")
            found = [p for p in found if p.is_file()]
            if not found:
                raise RecsysError(f"{path}: no CSV, TSV or Parquet files in this directory")
            listed = [(p, False) for p in found]
        elif not path.exists():
            raise RecsysError(f"{path}: {'a link to nothing' if path.is_symlink() else 'no such file or directory'}")
        else:
            listed = [(path, True)]
        for file, named in listed:
            key = file.resolve()
            if key in out:
                # Read twice, every song of it would be "merged" with itself and its moods counted twice.
                warn(f"{file}: given more than once; read once")
                file, named = out[key][0], named or out[key][1]
            out[key] = (file, named)
    return list(out.values())


def _adapter_for(path: Path, df: pd.DataFrame, fixed: Adapter | None) -> Adapter | None:
    if fixed is not None:
        if fixed.signature:
            require(df, sorted(fixed.signature), path, fixed.name)
        return fixed
    return detect_format(list(df.columns))


# Files of the public datasets that hold nothing the import lacks, known by their exact columns, so
# that the warning says why rather than "no known format" (data/README.md lists what is not read).
_NOT_READ = {
    frozenset({"Song", "Quadrant"}): "PANDA's annotations: quadrants by song id alone, which its metadata file gives with titles and artists",
}


def import_sources(
    paths: list[Path],
    *,
    fmt: str | None = None,
    mapping: Path | dict[str, str] | None = None,
    tag_table: Path | None = None,
    keep_unmatched: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Import files or directories into a conformed catalogue DataFrame with splits assigned.

    By default only songs that have lyrics, or are joined to a song with lyrics, are kept;
    ``keep_unmatched`` keeps label-only and audio-only rows too. Files in a directory whose
    columns match no format are skipped with a warning; a file named directly must match.
    """
    warn = on_warning or logging.getLogger(__name__).warning
    if not paths:
        raise RecsysError("no input files given")
    tags = load_tag_table(tag_table)
    if mapping is not None and fmt is None:
        fmt = "generic"
    if fmt is not None and fmt not in FORMATS:
        raise RecsysError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    fixed = generic.adapter(mapping) if fmt == "generic" else next((a for a in ADAPTERS if a.name == fmt), None)
    files = _files([Path(p) for p in paths], warn)
    frames: list[SourceFrame] = []
    with progress() as bar:
        for path, explicit in files:
            task = bar.add_task(path.name[:40], total=None, info="reading")
            if not explicit and is_catalogue(path):
                # An earlier import's output in the folder being imported (--out inside it): never a source.
                warn(f"{path}: skipped, it is a recsys catalogue, not a source")
                bar.update(task, total=1, completed=1, info="skipped")
                continue
            df = read_table(path, warn)
            adapter = _adapter_for(path, df, fixed)
            if adapter is None:
                if explicit:
                    raise RecsysError(f"{path}: unknown format (columns: {', '.join(map(str, df.columns[:8]))}); "
                                      f"name it with --format NAME ({', '.join(FORMATS)})")
                reason = _NOT_READ.get(frozenset(map(str, df.columns)), "its columns match no known format")
                warn(f"{path}: skipped, {reason}")
                bar.update(task, total=1, completed=1, info="skipped")
                continue
            bar.update(task, total=len(df), info=adapter.name)
            frame = adapter.load(df, path)
            for note in frame.attrs.pop(NOTES, []):
                warn(f"{path}: {note}")
            frames.append(SourceFrame(adapter, text_fields(frame, path)))
            bar.update(task, completed=len(df), info=f"{adapter.name}: {len(df)} rows")
        if not frames:
            raise RecsysError("none of the input files is in a recognised format")
        join_task = bar.add_task("joining", total=None, info="")
        priority = {a.name: i for i, a in enumerate([fixed] if fixed else [])}
        priority.update({a.name: len(priority) + i for i, a in enumerate(ADAPTERS) if a.name not in priority})
        joined, stats = join_sources(
            frames, tags, priority=priority, keep_unmatched=keep_unmatched,
            on_progress=lambda step: bar.update(join_task, info=step),
        )
        bar.update(join_task, total=1, completed=1, info=f"{len(joined)} songs")
    for src, n in sorted(stats.nameless.items()):
        warn(f"{src}: {counted(n, 'row')} without a title or an artist {'was' if n == 1 else 'were'} dropped (empty, or only symbols such as emoji, which leave no name to match)")
    for src, n in sorted(stats.duplicates.items()):
        warn(f"{src}: {counted(n, 'duplicate row')} of the same song merged")
    for src, n in sorted(stats.swapped.items()):
        warn(f"{src}: {counted(n, 'row')} had title and artist swapped; fixed by matching other sources")
    for src, r in sorted(stats.recased.items()):
        warn(f"{src}: every name in lower case (the source lost their case); of the {counted(r.songs, 'song')} it names, "
             f"{r.titles_spelt} titles and {r.artists_spelt} artists took the case another source spells them with, "
             "the rest were capitalised by rule (data/SCHEMA.md)")
    for src, n in sorted(stats.placeholder_lyrics.items()):
        warn(f"{src}: {counted(n, 'row')} hold{'s' * (n == 1)} placeholder text or under {MIN_LYRIC_WORDS} words instead of lyrics "
             "(e.g. 'yet to be released', '[Instrumental]'); read as no lyrics")
    if stats.mood_conflicts:
        warn(f"{counted(stats.mood_conflicts, 'song')} get{'s' * (stats.mood_conflicts == 1)} different moods from different sources or rows (e.g. {stats.mood_conflict_example}); "
             f"explicit labels win over derived ones, and for the {stats.mood_ties} where labels of the same kind disagree, source priority "
             "and then file order decide (data/SCHEMA.md)")
    if stats.dropped_unmatched:
        n = stats.dropped_unmatched
        warn(f"{counted(n, 'song')} without lyrics (none in the file, or none joined from another) {'were' if n != 1 else 'was'} dropped (--keep-unmatched keeps them)")
    if joined.empty:
        raise RecsysError("the import produced no songs (no rows with lyrics; use --keep-unmatched to keep the rest)")
    joined["song_id"] = [song_id(a, t) for a, t in zip(joined["artist"], joined["title"])]
    catalog = conform(joined)
    raw_lyrics = joined["lyrics"].reset_index(drop=True)
    annotated = raw_lyrics.notna() & (catalog["lyrics"].fillna("") != raw_lyrics.fillna(""))
    if annotated.any():
        warn(f"{int(annotated.sum())} lyrics lost lyric-site annotations ('[Chorus: ...]', '[x2]', '[?]'); "
             f"{int((annotated & catalog['lyrics'].isna()).sum())} of them held nothing else and read as no lyrics")
    unread = catalog["moods_raw"].map(len).gt(0) & catalog["mood"].isna()
    if unread.any():
        example = next(m for ms in catalog.loc[unread, "moods_raw"] for m in ms)
        n = int(unread.sum())
        warn(f"{counted(n, 'song')} carr{'ies' if n == 1 else 'y'} mood labels that map to none of {', '.join(MOODS)} (e.g. {shorten(example)}); "
             "read as no mood (--tags replaces the synonym table: copy recsys/data/tags.toml and add to it)")
    catalog["split"] = assign_splits(catalog).astype("string")
    empty = [split for split in SPLITS if not (catalog["split"] == split).any()]
    if empty:
        # Said now rather than by `recsys tune` or `evaluate` after a model is trained.
        warn(f"no {' or '.join(empty)}-split song among the {len(catalog)}: tuning needs val songs and evaluation test songs; import more songs")
    return catalog
