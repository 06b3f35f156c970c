"""Reading raw source files: encoding fallback, binary detection, numeric and list columns.

Every adapter reads through :func:`read_table` so that bad input fails the same way: one
:class:`RecsysError` line naming the file, and for cell-level problems the row and column.
"""

from __future__ import annotations

import ast
import csv
import datetime
import decimal
import io
import re
import tomllib
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.text import shorten

TABLE_SUFFIXES = {".csv", ".tsv", ".parquet"}
# Tried in order; cp1252 and latin-1 only after the text has passed the binary check.
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_TRUNCATED = re.compile(r"EOF inside string starting at row (\d+)")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")  # "12004" is no year, not 2004


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw[:65536]:
        raise RecsysError(f"{path}: not a UTF-8/Latin-1 text file (NUL bytes: binary or UTF-16); re-save it as UTF-8 CSV")
    for encoding in _ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n")
        if controls > 0.01 * max(1, min(len(text), 65536)):
            raise RecsysError(f"{path}: looks like a binary file, not CSV text")
        return text
    raise RecsysError(f"{path}: cannot decode the file as UTF-8, cp1252 or Latin-1")


def read_table(path: Path, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any of the fallback encodings) or Parquet file, every cell as text (None
    where empty; a Parquet list cell as a list of texts), so that adapters read both alike.

    A file cut off inside its last quoted record (partial downloads) loses that record with a
    warning; any other parse error fails.
    """
    if not path.exists():
        raise RecsysError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise RecsysError(f"{path}: the file is empty")
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path)
    text = _decode(path, path.read_bytes())
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    # index_col=False: a row with one field more than the header (a trailing comma, common in
    # spreadsheet exports) must not turn its first field into the index and shift every column.
    options = dict(sep=sep, dtype=str, keep_default_na=False, na_values=[""], index_col=False)
    try:
        with warnings.catch_warnings():
            # pandas only warns when such an extra field holds a value, and drops it.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(text), **options)
    except pd.errors.ParserWarning:
        raise RecsysError(f"{path}: a row holds more fields than the header names; quote fields that contain the separator") from None
    except pd.errors.EmptyDataError:
        raise RecsysError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as exc:
        cut = _TRUNCATED.search(str(exc))
        # The parser counts the header as row 0, so the cut record is data row N and N - 1 are whole.
        whole = int(cut.group(1)) - 1 if cut else 0
        if whole < 1:  # not a file cut short but one that is broken from its first row
            raise RecsysError(f"{path}: not a readable CSV ({str(exc).strip().splitlines()[-1]})") from None
        df = pd.read_csv(io.StringIO(text), nrows=whole, **options)
        if warn:
            warn(f"{path}: the file ends inside row {cut.group(1)} (cut off); that row was dropped")
    if df.empty:
        raise RecsysError(f"{path}: the file has a header but no rows")
    header = [name.strip() for name in next(csv.reader(io.StringIO(text), delimiter=sep))]
    twice = next((name for i, name in enumerate(header) if name and name in header[:i]), None)  # unnamed columns are ignored
    if twice is not None:
        # pandas would read the second as "name.1" and the adapters the first alone.
        raise RecsysError(f"{path}: the header names column {twice!r} twice; rename one")
    df.columns = [str(c).strip() for c in df.columns]
    # Files concatenated from several exports repeat their header: such a row is no song.
    named = [i for i, name in enumerate(header) if name and i < df.shape[1]]
    cells = df.iloc[:, named].fillna("").astype(str).apply(lambda column: column.str.strip()).to_numpy()
    repeats = (cells == np.array([header[i] for i in named], dtype=object)).all(axis=1)
    if repeats.any():
        if warn:
            warn(f"{path}: {int(repeats.sum())} rows repeat the header (files joined together?); dropped")
        df = df[~repeats].reset_index(drop=True)
    return df


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise RecsysError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None
    names = [str(name).strip() for name in table.column_names]
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:
        raise RecsysError(f"{path}: the file names column {twice!r} twice; rename one")
    if table.num_rows == 0:
        raise RecsysError(f"{path}: the file has columns but no rows")
    df = table.to_pandas()
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()  # pandas stores a set index (df.set_index("Song")) apart from the columns
    columns = {}
    for column in df.columns:
        values = []
        for position, value in enumerate(df[column].tolist()):
            try:
                values.append(_text(value))
            except TypeError:
                raise RecsysError(f"{path}: {cell_at(position, str(column))}: {shorten(str(value))} is not a value a "
                                  f"catalogue field can hold (a {type(value).__name__})") from None
        columns[str(column).strip()] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns)


def _text(value: object) -> str | list[str] | None:
    """A Parquet cell as a CSV file would hold it: integral numbers without ".0" (a float column
    of years or titles with a gap), other floats exactly (``repr``), booleans as true/false,
    dates in ISO form, lists as lists of texts; TypeError for anything else (structs, bytes)."""
    if isinstance(value, str):
        return value or None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if np.isnan(number):
            return None
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    if isinstance(value, (decimal.Decimal, datetime.date, datetime.time)):
        return value.isoformat() if not isinstance(value, decimal.Decimal) else str(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [_text(item) for item in value]
        if any(isinstance(item, list) for item in items):
            raise TypeError("a list of lists")
        return [item for item in items if item is not None]  # type: ignore[misc]
    raise TypeError(type(value).__name__)


def read_toml(path: Path, what: str) -> dict:
    """A TOML file's table; a missing, unreadable or invalid file is one line naming it and
    ``what`` it should be ("mapping", "tag table")."""
    if not path.exists():
        raise RecsysError(f"{path}: no such {what} file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecsysError(f"{path}: not a valid TOML {what} ({exc})") from None
    except OSError as exc:
        raise RecsysError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def single_cells(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A field of one value per song (a title, a year, a mood, a genre) as text, None where the
    cell is empty or blank. A Parquet list cell holding one value is that value; one holding
    several is an error naming the row."""

    def single(position: int, value: object) -> str | None:
        if isinstance(value, list):
            present = [item for item in value if item.strip()]
            if len(present) > 1:
                raise RecsysError(f"{path}: {cell_at(position, column)}: holds {len(present)} values "
                                  f"({shorten(', '.join(present))}); this field takes one per song")
            value = present[0] if present else None
        return value if isinstance(value, str) and value.strip() else None

    return pd.Series([single(i, v) for i, v in enumerate(df[column])], index=df.index, dtype=object)


def one_label(labels: pd.Series) -> pd.Series:
    """Each label as a one-item list, an empty list where there is none (see :func:`single_cells`)."""
    return labels.map(lambda value: [value] if isinstance(value, str) else [])


def require(df: pd.DataFrame, columns: list[str], path: Path, fmt: str) -> None:
    """Fail naming the first required column the file lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RecsysError(f"{path}: missing required column {missing[0]!r} for format {fmt}")


def numeric(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The column as floats; a non-empty cell that is not a finite number is an error naming row and column."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    present = raw.notna() & raw.astype(str).str.strip().ne("")
    bad = present & ~np.isfinite(values)
    if bad.any():
        raise RecsysError(f"{path}: {cell(bad, column)}: {shorten(raw[bad].iloc[0])} is not a finite number")
    return values


def cell(bad: pd.Series, column: str) -> str:
    """'row N column C' of the first True in ``bad`` (positions in file order)."""
    return cell_at(int(np.flatnonzero(bad.to_numpy())[0]), column)


def cell_at(position: int, column: str) -> str:
    """'row N column C' of the row at ``position`` (0-based, in file order)."""
    # +2: one for the header line, one for 1-based numbering, so it matches an editor's line.
    return f"row {position + 2} column {column!r}"


def year_of(series: pd.Series) -> pd.Series:
    """A year from a year or date column ("2004", "2004-05-01", "5/1/2004"); null when absent."""
    return pd.to_numeric(series.astype("string").str.extract(_YEAR, expand=False), errors="coerce").astype("Int64")


def split_list(value: object, seps: str = ",;|") -> list[str]:
    """Tags from a list literal ("['a', 'b']") or a separated string ("a, b; c")."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    if value is None or pd.isna(value):
        return []
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, (list, tuple)):
            return [str(v).strip() for v in parsed if str(v).strip()]
        text = text[1:-1]
    parts = re.split(f"[{re.escape(seps)}]", text)
    return [p.strip().strip("'\"").strip() for p in parts if p.strip().strip("'\"").strip()]
