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
        self._matrices: dict[str, np.ndarray] = {}

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

    def matrix(self, name: str, width: int) -> np.ndarray:
        """List column ``name`` of ``width`` numbers a song (the heads' ``mood_probs``,
        ``genre_probs``) as an (n, width) float64 array; a song whose list is missing or of another
        length gets a row of NaN. Read from the Arrow buffers: pyarrow's own conversions of a list
        column load pandas or its compute kernels first (0.04 to 0.2 s of a cold query)."""
        if name not in self._matrices:
            if name not in self:
                raise RecsysError(f"songs table has no column {name!r}")
            column = self._table.column(name).combine_chunks()
            out = np.full((len(self), width), np.nan)
            dtype = {pa.float64(): np.float64, pa.float32(): np.float32}.get(column.type.value_type) if pa.types.is_list(column.type) else None
            if dtype is not None and column.values.null_count == 0:
                values = column.values
                numbers = np.frombuffer(values.buffers()[1], dtype=dtype)[values.offset : values.offset + len(values)]
                offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
                whole = np.flatnonzero(np.diff(offsets) == width)  # a missing list has length 0
                out[whole] = numbers[offsets[whole][:, None] + np.arange(width)]
            else:  # other layouts through Python values: slower, and no query path writes them
                for row, listed in enumerate(self.values(name)):
                    if listed is not None and len(listed) == width:
                        out[row] = listed
            self._matrices[name] = out
        return self._matrices[name]
