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
_TRUNCATED = re.compile(r"EOF inside string starting at row (\d+)")
# DataFrame.attrs keys read_table sets: how a CSV's rows are numbered where position alone would
# misnumber them, and the Parquet columns left out because no field can hold their cells.
_NUMBERING, _UNREADABLE = "recsys_numbering", "recsys_unreadable"
# The DataFrame.attrs key under which an adapter leaves lines for the import's warnings.
NOTES = "recsys_notes"


class _Numbering:
    """Spreadsheet rows and starting lines of a CSV's records. pandas deep-copies ``attrs`` into
    every frame and column derived from one, and compares them when concatenating: this
    immutable holder copies as itself and compares by identity."""

    def __init__(self, rows: np.ndarray, lines: np.ndarray | None) -> None:
        self.rows, self.lines = rows, lines

    def __deepcopy__(self, memo: dict) -> "_Numbering":
        return self


# A year standing alone or opening a compact date ("20040501"): "12004" is no year, not 2004.
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?=\D|$|\d{4}(?!\d))")


def _decode(path: Path, raw: bytes, warn: Callable[[str], None] | None) -> str:
    if b"\x00" in raw[:65536]:
        raise RecsysError(f"{path}: not a UTF-8/Latin-1 text file (NUL bytes: binary or UTF-16); re-save it as UTF-8 CSV")
    mixed: list[int] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Line by line, so that the lines that are UTF-8 stay right in a file saved by two
        # programs; decoding it whole as cp1252 would garble every accented name in them.
        lines = raw.split(b"\n")
        decoded = [_decode_line(line) for line in lines]
        text = "\n".join(line for line, _ in decoded).removeprefix("\ufeff")
        if any(utf8 and not line.isascii() for line, (_, utf8) in zip(lines, decoded)):
            mixed = [i for i, (_, utf8) in enumerate(decoded) if not utf8]
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > 0.01 * max(1, min(len(text), 65536)):
        raise RecsysError(f"{path}: looks like a binary file, not CSV text")
    if mixed and warn:
        warn(f"{path}: mixes encodings: {len(mixed)} lines are not UTF-8 (the first is line {mixed[0] + 1}) and were read as "
             "Windows-1252; check the accented names there, or re-save the file as UTF-8")
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # classic Mac line ends (Excel's "CSV (Macintosh)")
    return text


def _decode_line(line: bytes) -> tuple[str, bool]:
    """(text, whether it was UTF-8); cp1252, and Latin-1 for the five bytes cp1252 leaves undefined."""
    try:
        return line.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252"), False
    except UnicodeDecodeError:
        return line.decode("latin-1"), False


def read_table(path: Path, warn: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any of the fallback encodings) or Parquet file. CSV cells are text (None
    where empty); Parquet numeric columns stay numbers (text fields spell them with
    :func:`number_text`), other Parquet cells become text or lists of texts, and a column whose
    cells no field can hold is left out, to fail only if an adapter reads it (:func:`require`).

    A file cut off inside its last quoted record (partial downloads) loses that record with a
    warning; any other parse error fails.
    """
    if not path.exists():
        raise RecsysError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise RecsysError(f"{path}: the file is empty")
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path)
    text = _decode(path, path.read_bytes(), warn)
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
    rows, lines = np.arange(len(df)) + 2, _record_lines(text, sep, len(df))
    if repeats.any():
        if warn:
            warn(f"{path}: {int(repeats.sum())} rows repeat the header (files joined together?); dropped")
        df, rows, lines = df[~repeats].reset_index(drop=True), rows[~repeats], lines[~repeats] if lines is not None else None
    if not np.array_equal(rows, np.arange(len(df)) + 2) or (lines is not None and not np.array_equal(lines, rows)):
        df.attrs[_NUMBERING] = _Numbering(rows, lines)  # for messages: see row_at
    return df


def _record_lines(text: str, sep: str, n_rows: int) -> np.ndarray | None:
    """The line each of the first ``n_rows`` data records starts on (a quoted lyric spans
    several); None where Python's csv module reads the records otherwise than pandas did."""
    starts, previous = [], 0
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        for record in reader:
            if record:  # pandas skips blank lines too
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:  # a file cut off inside a quoted record: pandas dropped that record
        pass
    # One more record than pandas kept: the record a cut-off file ends inside, which pandas dropped.
    return np.array(starts[1 : n_rows + 1]) if len(starts) in (n_rows + 1, n_rows + 2) else None


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    def damaged(exc: Exception) -> RecsysError:  # pyarrow raises several types for damaged files
        return RecsysError(f"{path}: not a readable Parquet file ({type(exc).__name__})")

    try:
        names = [str(name).strip() for name in pq.read_schema(path).names]
    except Exception as exc:
        raise damaged(exc) from None
    twice = next((name for i, name in enumerate(names) if name in names[:i]), None)
    if twice is not None:  # pyarrow would refuse to read it without saying why
        raise RecsysError(f"{path}: the file names column {twice!r} twice; rename one")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise damaged(exc) from None
    if table.num_rows == 0:
        raise RecsysError(f"{path}: the file has columns but no rows")
    df = table.to_pandas()
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()  # pandas stores a set index (df.set_index("Song")) apart from the columns
    columns: dict[str, pd.Series] = {}
    unreadable: dict[str, str] = {}
    for column in df.columns:
        name, series = str(column).strip(), df[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if pd.api.types.is_numeric_dtype(series.dtype):
            # Numbers stay numbers for the audio columns; text fields spell them with number_text.
            columns[name] = series.reset_index(drop=True)
            continue
        if pd.api.types.infer_dtype(series, skipna=True) == "string":  # the common case, without a loop in Python
            text = series.astype(object)
            columns[name] = text.where(text.notna() & (text != ""), None).reset_index(drop=True)
            continue
        values: list[object] = []
        for position, value in enumerate(series.tolist()):
            try:
                values.append(_text(value))
            except TypeError:
                # Only an error if an adapter reads this column (see require): other columns may hold anything.
                unreadable[name] = f"{cell_at(df, position, name)}: {shorten(str(value))} is not a value a catalogue field can hold (a {type(value).__name__})"
                break
        else:
            columns[name] = pd.Series(values, dtype=object)
    out = pd.DataFrame(columns)
    out.attrs[_UNREADABLE] = unreadable
    return out


def number_text(value: object) -> str | None:
    """A number as a CSV file would hold it: whole numbers without ".0" (a float column of years
    or titles with a gap), other floats exactly (``repr``), booleans as true/false; None for a
    missing value or anything that is not a number."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and not np.isnan(value):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return None


def _text(value: object) -> str | list[str] | None:
    """A Parquet cell of a non-numeric column as text (dates in ISO form), a list of texts, or
    None; TypeError for anything else (structs, bytes)."""
    if isinstance(value, str):
        return value or None
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)):
        return number_text(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
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
    cell is empty or blank. Parquet numbers are spelt as a CSV holds them (:func:`number_text`); a
    list cell holding one value is that value, one holding several an error naming the row."""

    def single(position: int, value: object) -> str | None:
        if isinstance(value, list):
            present = [item for item in value if item.strip()]
            if len(present) > 1:
                raise RecsysError(f"{path}: {cell_at(df, position, column)}: holds {len(present)} values "
                                  f"({shorten(', '.join(present))}); this field takes one per song")
            value = present[0] if present else None
        text = value if isinstance(value, str) else number_text(value)
        return text if text and text.strip() else None

    return pd.Series([single(i, v) for i, v in enumerate(df[column])], index=df.index, dtype=object)


def text_fields(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A source frame's title, artist and lyrics as text, whatever format read them from Parquet:
    a list of lines is a lyric, a title or artist list holding one value is that value (several
    are an error naming the row; rows number as in ``frame``, which keeps the file's order)."""
    for field in ("title", "artist", "lyrics"):
        if field not in frame or pd.api.types.infer_dtype(frame[field], skipna=True) in ("string", "empty"):
            continue
        if field == "lyrics":
            frame[field] = frame[field].map(lambda text: "\n".join(text) if isinstance(text, list) else text)
        else:
            frame[field] = single_cells(frame, field, path)
    return frame


def one_label(labels: pd.Series) -> pd.Series:
    """Each label as a one-item list, an empty list where there is none (see :func:`single_cells`)."""
    return labels.map(lambda value: [value] if isinstance(value, str) else [])


def require(df: pd.DataFrame, columns: list[str], path: Path, fmt: str) -> None:
    """Fail naming the first required column the file lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        check_readable(df, missing[0], path)
        raise RecsysError(f"{path}: missing required column {missing[0]!r} for format {fmt}")


def check_readable(df: pd.DataFrame, column: str, path: Path) -> None:
    """Fail naming the cell that kept a Parquet column out of ``df`` (a struct, bytes), if it was."""
    reason = df.attrs.get(_UNREADABLE, {}).get(column)
    if reason:
        raise RecsysError(f"{path}: {reason}")


def numeric(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """The column as floats; a non-empty cell that is not a finite number is an error naming row and column."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    present = present_cells(raw)
    bad = present & ~np.isfinite(values)
    if bad.any():
        raise RecsysError(f"{path}: {cell(df, bad, column)}: {shorten(raw[bad].iloc[0])} is not a finite number")
    return values


def present_cells(raw: pd.Series) -> pd.Series:
    """Which cells hold something: neither missing nor blank."""
    return raw.notna() & raw.astype("string").str.strip().ne("")


def cell(df: pd.DataFrame, bad: pd.Series, column: str) -> str:
    """'row N column C' of the first True in ``bad`` (positions in ``df``, as read)."""
    return cell_at(df, int(np.flatnonzero(bad.to_numpy())[0]), column)


def cell_at(df: pd.DataFrame, position: int, column: str) -> str:
    """'row N column C' of ``df``'s row at ``position`` (0-based)."""
    return f"{row_at(df, position)} column {column!r}"


def row_at(df: pd.DataFrame, position: int) -> str:
    """'row N' of ``df``'s row at ``position``, records counted from the header's row 1, and the
    editor line it starts on where the two differ (lyrics spanning lines, dropped rows)."""
    numbering = df.attrs.get(_NUMBERING)
    # +2: one for the header line, one for 1-based numbering.
    row = int(numbering.rows[position]) if numbering is not None else position + 2
    line = int(numbering.lines[position]) if numbering is not None and numbering.lines is not None else row
    return f"row {row}" + (f" (line {line})" if line != row else "")


def year_of(series: pd.Series) -> pd.Series:
    """A year from a year or date column ("2004", "2004-05-01", "5/1/2004"); null when absent."""
    return pd.to_numeric(series.astype("string").str.extract(_YEAR, expand=False), errors="coerce").astype("Int64")


def split_list(value: object, seps: str = ",;|") -> list[str]:
    """Tags from a list literal ("['a', 'b']") or a separated string ("a, b; c")."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    if value is None or pd.isna(value):
        return []
    number = number_text(value)
    if number is not None:
        return [number]
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
