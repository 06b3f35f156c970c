"""Genius lyrics scraped per artist (one CSV per artist: Artist, Title, Album, Year, Date, Lyric).

This dataset's lyrics are flattened onto one line: lower-cased, punctuation and line breaks
gone. Of each part header ("[Pre-Chorus: Jungkook & V]") only the words its cleaning left remain
("pre jungkook  v"): after a run of two or more spaces, and glued to the part's first sung line.
Kept, the singers' names would be lyric terms that tie an artist's songs to one another, so
:func:`part_header_words` finds them from where they stand and the adapter removes them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import chain
from pathlib import Path

import pandas as pd

from recsys.sources._read import NOTES, year_of
from recsys.sources.base import Adapter
from recsys.sources.join import RELEASE_NOTE

_PART_BREAK = re.compile(r"\s{2,}")


def _parts(text: str) -> list[list[str]]:
    return [part.split() for part in _PART_BREAK.split(text.strip())]


def part_header_words(lyrics: Iterable[str], min_share: float = 0.5, min_songs: int = 3, min_next: int = 3) -> frozenset[str]:
    """The words that open parts of flattened lyrics: part names ("pre", "hook") and singers.

    A word opens a part when it stands first in one, or right after another header word. It is a
    header word when at least ``min_share`` of its occurrences open a part, in at least
    ``min_songs`` songs, followed there by at least ``min_next`` different words: a sung line
    that opens every chorus is followed by the same words each time, a singer's name by whatever
    the singer sings. Since each depends on the other, the set grows from the parts' first words
    to a fixed point.
    """
    songs = [_parts(text) for text in lyrics]
    total = Counter(word for parts in songs for part in parts for word in part)
    words: frozenset[str] = frozenset()
    for _ in range(10):
        opening: Counter[str] = Counter()
        in_songs: dict[str, set[int]] = defaultdict(set)
        followed_by: dict[str, set[str]] = defaultdict(set)
        for song, parts in enumerate(songs):
            for part in parts:
                for position, word in enumerate(part):
                    opening[word] += 1
                    in_songs[word].add(song)
                    if position + 1 < len(part):
                        followed_by[word].add(part[position + 1])
                    if word not in words:
                        break
        found = frozenset(word for word, n in opening.items()
                          if n >= min_share * total[word] and len(in_songs[word]) >= min_songs and len(followed_by[word]) >= min_next)
        if found == words:
            break
        words = found
    return words


def strip_part_headers(text: str, words: frozenset[str]) -> str:
    """``text`` without the header ``words`` that open its parts, one part a line."""
    kept = []
    for part in _parts(text):
        start = 0
        while start < len(part) and part[start] in words:
            start += 1
        if start < len(part):
            kept.append(" ".join(part[start:]))
    return "\n".join(kept)


def load(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = pd.DataFrame({"title": df["Title"], "artist": df["Artist"], "lyrics": df["Lyric"]})
    # Lyrics with line breaks or brackets kept their headers as "[...]", which the catalogue strips;
    # a release note ("lyrics for this song have yet to be released") is the join's to remove.
    flat = out["lyrics"].map(lambda text: isinstance(text, str) and "\n" not in text and "[" not in text
                             and not RELEASE_NOTE.search(text))
    before = out.loc[flat, "lyrics"]
    words = part_header_words(before)
    after = before.map(lambda text: strip_part_headers(text, words))
    words_before, words_after = before.str.split(), after.str.split()
    removed = Counter(chain.from_iterable(words_before)) - Counter(chain.from_iterable(words_after))
    if removed:
        out.loc[flat, "lyrics"] = after
        changed = int((words_after.str.len() < words_before.str.len()).sum())
        shown = ", ".join(word for word, _ in removed.most_common(6))
        out.attrs[NOTES] = [f"part headers removed from {changed} flattened lyrics: {removed.total()} words "
                            f"({shown}{', ...' if len(removed) > 6 else ''})"]
    out["lyrics_kind"] = "full"
    when = df["Year"] if "Year" in df.columns else df.get("Date")
    out["year"] = year_of(when) if when is not None else None
    return out


ADAPTER = Adapter(
    "genius_lyrics",
    frozenset({"Artist", "Title", "Lyric"}),
    load,
    description="Genius lyrics per artist (Artist, Title, Lyric)",
)
