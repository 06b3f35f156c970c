"""The artefacts' song metadata for the query path, read with pyarrow alone.

A cold ``recsys similar`` must answer well under a second, and importing pandas alone takes
about a third of that. ``pyarrow.parquet.ParquetFile`` reads ``songs.parquet`` without pandas
(``pyarrow.parquet.read_table`` would import it), and each column is turned into plain Python
values or a float array the first time it is asked for. Analysis code that wants a DataFrame
uses ``Artifacts.songs`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from recsys.errors import RecsysError


class SongTable:
    """Columns of song metadata, one row per indexed song, converted lazily and cached."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table
        self._values: dict[str, list[Any]] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._lists: dict[str, list[list[Any]]] = {}

    @classmethod
    def read(cls, path: str | Path) -> SongTable:
        """Read a Parquet file; RecsysError (one line, naming it) if it cannot be read."""
        try:
            return cls(pq.ParquetFile(path).read())
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise RecsysError(f"{path}: unreadable Parquet ({exc})") from None

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[Any]]) -> SongTable:
        """A table from plain columns, e.g. ``{"title": [...], "artist": [...]}``."""
        return cls(pa.table({name: list(values) for name, values in columns.items()}))

    def __len__(self) -> int:
        return self._table.num_rows

    def __contains__(self, name: object) -> bool:
        return name in self._table.column_names

    def values(self, name: str) -> list[Any]:
        """Column ``name`` as Python values (str, int, list, ...), None where missing."""
        if name not in self._values:
            if name not in self:
                raise RecsysError(f"songs table has no column {name!r}")
            self._values[name] = self._table.column(name).to_pylist()
        return self._values[name]

    def cell(self, name: str, row: int) -> Any:
        """Column ``name`` at ``row`` as a Python value, without converting the whole column: the
        query path reads a few songs' head probabilities, and the first array conversion of a
        list column would import pandas (about 0.2 s)."""
        if name in self._values:
            return self._values[name][row]
        if name not in self:
            raise RecsysError(f"songs table has no column {name!r}")
        return self._table.column(name)[row].as_py()

    def numbers(self, name: str) -> np.ndarray:
        """Numeric column ``name`` as float64, NaN where missing."""
        if name not in self._numbers:
            self._numbers[name] = np.array([np.nan if v is None else v for v in self.values(name)], dtype=np.float64)
        return self._numbers[name]

    def lists(self, name: str) -> list[list[Any]]:
        """List column ``name`` (e.g. genres), an empty list where missing."""
        if name not in self._lists:
            self._lists[name] = [v if v is not None else [] for v in self.values(name)]
        return self._lists[name]
