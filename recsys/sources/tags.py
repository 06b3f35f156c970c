"""Raw mood and genre tags -> canonical labels, by a TOML synonym table (recsys/data/tags.toml).

A canonical label applies to a raw tag when one of its terms occurs in the normalised tag as whole
words, so Spotify's fine genres ("dance pop", "album rock", "atl hip hop") map without listing each.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from recsys.schema import MOODS
from recsys.errors import RecsysError
from recsys.sources._read import read_toml

_SEPARATORS = re.compile(r"[-_/]+")


def _fold(tag: str) -> str:
    return " ".join(_SEPARATORS.sub(" ", tag.lower()).split())


class TagTable:
    """Compiled synonym rules for moods (canonical labels restricted to ``recsys.catalog.MOODS``)
    and genres (any label the table defines)."""

    def __init__(self, table: dict, source: str) -> None:
        self.source = source
        self._rules: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        for section in ("mood", "genre"):
            entries = table.get(section)
            if not isinstance(entries, dict) or not entries:
                raise RecsysError(f"{source}: tag table needs a non-empty [{section}] table of label = [terms]")
            rules = []
            for label, terms in entries.items():
                if section == "mood" and label not in MOODS:
                    raise RecsysError(f"{source}: [mood] label {label!r} is not one of {', '.join(MOODS)}")
                if not label.strip():
                    raise RecsysError(f"{source}: [{section}] has a blank label; name each label")
                folded = [_fold(t) for t in terms] if isinstance(terms, list) and all(isinstance(t, str) for t in terms) else []
                # A term of separators only ("-", "/") folds to nothing and would match between words.
                if not folded or not all(folded):
                    raise RecsysError(f"{source}: [{section}] {label!r} must be a non-empty list of terms with words")
                alternatives = "|".join(re.escape(t) for t in sorted(folded, key=len, reverse=True))
                rules.append((label, re.compile(rf"(?<![a-z0-9&])(?:{alternatives})(?![a-z0-9&])")))
            self._rules[section] = rules
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def labels(self, section: str, tag: str) -> tuple[str, ...]:
        """Canonical labels of one raw tag, in table order."""
        key = (section, tag)
        if key not in self._cache:
            folded = _fold(tag)
            self._cache[key] = tuple(label for label, rx in self._rules[section] if rx.search(folded))
        return self._cache[key]

    def mood(self, tag: object) -> str | None:
        """The one canonical mood of a raw mood label; None when it maps to none or to several."""
        if not isinstance(tag, str):
            return None
        found = self.labels("mood", tag)
        return found[0] if len(found) == 1 else None

    def genres(self, tags: list[str]) -> list[str]:
        """Sorted union of canonical genres over a song's raw genre tags."""
        return sorted({label for tag in tags for label in self.labels("genre", tag)})


@lru_cache(maxsize=1)
def _shipped() -> TagTable:
    text = resources.files("recsys").joinpath("data/tags.toml").read_text(encoding="utf-8")
    return TagTable(tomllib.loads(text), "recsys/data/tags.toml")


def load_tag_table(path: Path | None = None) -> TagTable:
    """The shipped table, or a user's TOML file; an invalid file is a one-line RecsysError."""
    if path is None:
        return _shipped()
    return TagTable(read_toml(path, "tag table"), str(path))
