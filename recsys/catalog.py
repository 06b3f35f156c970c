"""The song catalogue: canonical schema, song ids, splits, validated load and atomic save.

Every later stage reads the catalogue through :func:`load_catalog`. The schema is documented in
``data/SCHEMA.md``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from recsys.errors import RecsysError
from recsys.io import atomic_path, check_replaceable
from recsys.schema import CONTINUOUS_FEATURES, CATEGORICAL_FEATURES, MOODS, SPLITS, STRING_COLUMNS, LIST_COLUMNS, COLUMNS, REQUIRED_COLUMNS
from recsys.text import normalize_text, shorten, strip_lyric_annotations, tidy_name

CATALOG_FORMAT_VERSION = 1


def song_key(artist: object, title: object) -> str:
    """The join key of a song: normalised ``artist||title``."""
    return f"{normalize_text(artist)}||{normalize_text(title)}"


def song_id(artist: object, title: object) -> str:
    """A stable 16-hex id derived from the normalised artist and title."""
    return hashlib.sha1(song_key(artist, title).encode("utf-8")).hexdigest()[:16]


def in_split(df: pd.DataFrame, split: str) -> np.ndarray:
    """(n,) bool: which rows of ``df`` belong to ``split`` (rows without a split belong to none)."""
    return (df["split"].astype("string") == split).fillna(False).to_numpy(bool)


def has_lyrics(df: pd.DataFrame) -> np.ndarray:
    """(n,) bool: which rows hold lyrics (more than whitespace); only they are indexed."""
    return (df["lyrics"].fillna("").astype(str).str.strip() != "").to_numpy(bool)


def split_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of the catalogue's (song_id, split) pairs in id order. A song's split depends on the
    other songs of its stratum (:func:`assign_splits`), so another import of the same sources
    (``--keep-unmatched``, another file set) moves songs between splits; a model and the
    catalogue it is tuned and evaluated on must agree, or held-out songs were seen in training."""
    pairs = sorted(zip(df["song_id"].astype(str), df["split"].astype(str)))
    return hashlib.sha256("\n".join(f"{song}\t{split}" for song, split in pairs).encode()).hexdigest()


def _unit_hash(ids: Iterable[str], salt: str) -> np.ndarray:
    return np.array(
        [int(hashlib.sha1(f"{salt}:{i}".encode()).hexdigest()[:12], 16) / float(1 << 48) for i in ids]
    )


def assign_splits(
    df: pd.DataFrame, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), salt: str = "recsys-split-v1"
) -> pd.Series:
    """Deterministic train/val/test split from the songs' ids, stratified by label.

    Songs are grouped into strata by (mood, first genre); inside a stratum they are ordered by a
    salted hash of their id and cut at the given fractions, so each label is spread across the
    three splits in proportion. A song's split depends on the catalogue's content, including the
    other songs of its stratum: :func:`split_fingerprint` tells two catalogues' splits apart.
    """
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise RecsysError(f"split fractions must sum to 1, got {fractions}")
    mood = df["mood"].fillna("") if "mood" in df else pd.Series("", index=df.index)
    first_genre = (
        df["genres"].map(lambda g: sorted(g)[0] if g is not None and len(g) else "")
        if "genres" in df
        else pd.Series("", index=df.index)
    )
    stratum = mood.astype(str) + "|" + first_genre.astype(str)
    order = pd.Series(_unit_hash(df["song_id"], salt), index=df.index)
    split = pd.Series("train", index=df.index, dtype=object)
    train_cut, val_cut = fractions[0], fractions[0] + fractions[1]
    for _, members in order.groupby(stratum):
        ranked = members.sort_values()
        # Mid-rank quantiles so that small strata still reach val and test.
        q = (np.arange(len(ranked)) + 0.5) / len(ranked)
        labels = np.where(q < train_cut, "train", np.where(q < val_cut, "val", "test"))
        split.loc[ranked.index] = labels
    return split


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the canonical columns, in order, with canonical dtypes.

    Missing optional columns are added empty; list columns become lists of strings; titles and
    artists lose invisible characters and repeated spaces (their song ids do not change); lyrics
    lose the lyric sites' bracketed annotations ("[Chorus: Ariana Grande]", "[x2]"), and lyrics
    with no word left count as missing.
    """
    out = pd.DataFrame(index=df.index)
    for col in COLUMNS:
        if col in df:
            out[col] = df[col]
        elif col in LIST_COLUMNS:
            out[col] = [[] for _ in range(len(df))]
        else:
            out[col] = None
    for col in LIST_COLUMNS:
        out[col] = out[col].map(_as_list)
    for col in ("title", "artist"):
        out[col] = out[col].map(tidy_name, na_action="ignore")
    out["lyrics"] = out["lyrics"].map(strip_lyric_annotations, na_action="ignore")
    out["lyrics_kind"] = out["lyrics_kind"].where(out["lyrics"].notna(), None)
    for col in STRING_COLUMNS:
        out[col] = out[col].astype("string")
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    for col in CONTINUOUS_FEATURES:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in CATEGORICAL_FEATURES:
        out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
    return out.reset_index(drop=True)


def validate(df: pd.DataFrame, source: str = "catalogue") -> None:
    """Raise :class:`RecsysError` naming the first problem that would break a later stage."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df]
    if missing:
        raise RecsysError(f"{source}: missing required column(s) {', '.join(missing)}; import the sources again (recsys catalog import)")
    if df.empty:
        raise RecsysError(f"{source}: the catalogue has no songs")
    for column in ("song_id", "title", "artist"):
        # A hand-edited file: a missing id would read as a duplicate "<NA>", a missing name breaks every lookup.
        empty = df[column].isna() | df[column].astype("string").str.strip().eq("")
        if empty.any():
            raise RecsysError(f"{source}: row {int(np.flatnonzero(empty.to_numpy())[0]) + 1} has no {column}")
    dup = df["song_id"][df["song_id"].duplicated()]
    if len(dup):
        row = int(dup.index[0])
        raise RecsysError(f"{source}: duplicate song_id {dup.iloc[0]} at row {row + 1}")
    if "mood" in df:
        bad = df["mood"].dropna()
        bad = bad[~bad.isin(MOODS)]
        if len(bad):
            raise RecsysError(f"{source}: row {int(bad.index[0]) + 1} has unknown mood {shorten(bad.iloc[0])}")
    if "split" in df:
        bad = df["split"].dropna()
        bad = bad[~bad.isin(SPLITS)]
        if len(bad):
            raise RecsysError(f"{source}: row {int(bad.index[0]) + 1} has unknown split {shorten(bad.iloc[0])}")


def is_catalogue(path: str | Path) -> bool:
    """Whether ``path`` is a Parquet file written by :func:`save_catalog` (any format version)."""
    try:
        return "catalog_format" in catalog_metadata(path)
    except Exception:  # pyarrow raises several types for files that are not Parquet
        return False


def check_catalog_target(path: str | Path) -> None:
    """Raise RecsysError unless writing a catalogue to ``path`` can only replace an earlier
    catalogue: a mistyped ``--out`` must not overwrite a CSV, a checkpoint's config.json, ..."""
    path = Path(path)
    check_replaceable(path)
    if path.is_file() and not is_catalogue(path):
        raise RecsysError(f"{path}: exists and is not a recsys catalogue; refusing to replace it (choose another --out)")
    if path.suffix.lower() != ".parquet":
        # The file is Parquet whatever its name says; "songs.csv" would mislead every reader.
        raise RecsysError(f"{path}: a catalogue is written as Parquet; give it a name ending in .parquet, such as catalog.parquet")


def save_catalog(df: pd.DataFrame, path: str | Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Conform, validate and write the catalogue as Parquet, atomically. An existing file at
    ``path`` is replaced only if it is a catalogue (:func:`check_catalog_target`).

    ``metadata`` lands in the Parquet schema metadata (for example ``synthetic: true``).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    check_catalog_target(path)
    table_df = conform(df)
    if table_df["split"].isna().any():
        table_df["split"] = table_df["split"].fillna(assign_splits(table_df)).astype("string")
    validate(table_df, str(path))
    table = pa.Table.from_pandas(table_df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"recsys.catalog_format"] = str(CATALOG_FORMAT_VERSION).encode()
    for key, value in (metadata or {}).items():
        meta[f"recsys.{key}".encode()] = str(value).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def catalog_metadata(path: str | Path) -> dict[str, str]:
    """The ``recsys.*`` entries of a catalogue file's Parquet metadata, without the prefix."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return {k.decode()[len("recsys."):]: v.decode() for k, v in meta.items() if k.startswith(b"recsys.")}


def load_catalog(path: str | Path) -> pd.DataFrame:
    """Read and validate a catalogue written by :func:`save_catalog`; its path is kept for
    messages about its content (:func:`catalog_name`).

    Fails with one clear line on a missing file, a file that is not Parquet, a catalogue format
    this version cannot read, or a catalogue missing a required column or holding bad values.
    """
    path = Path(path)
    if not path.exists():
        raise RecsysError(f"{path}: no such catalogue file")
    if path.is_dir():
        raise RecsysError(f"{path}: is a directory; give the catalogue's .parquet file")
    try:
        meta = catalog_metadata(path)
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise RecsysError(f"{path}: not a readable Parquet catalogue ({type(exc).__name__})") from None
    version = meta.get("catalog_format")
    if version is None:
        raise RecsysError(f"{path}: not a recsys catalogue (no recsys.catalog_format metadata); import it first")
    if version != str(CATALOG_FORMAT_VERSION):
        raise RecsysError(f"{path}: catalogue format {shorten(version)}, this recsys reads {CATALOG_FORMAT_VERSION}")
    # Validated before conform, which adds every missing column empty: a catalogue without titles
    # would train and build, and then no title could be found.
    validate(df, str(path))
    df = conform(df)
    df.attrs[_SOURCE] = str(path)
    return df


# Where load_catalog read a catalogue from, for messages about its content (pandas keeps attrs
# through copies and selections).
_SOURCE = "recsys_source"


def catalog_name(df: pd.DataFrame) -> str:
    """The file a catalogue was loaded from, or "catalogue" for one built in memory."""
    return str(df.attrs.get(_SOURCE, "catalogue"))
