"""Where tcc_ceds' loudness sits in dB: a least-squares line from its min-max scaled loudness
(0..1 over the upstream dataset, whose true range is not published) to the Spotify-measured dB
of the same songs in the other sources. ``recsys.sources.tcc.LOUDNESS_DB_RANGE`` is this line's
values at 0 and 1; the table also scores the mapping the import used before (-60 + 60 x).

    .venv/bin/python -m bench.loudness ../shared/data/raw
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import add_name_option, bench_parser, report, run
from recsys.catalog import song_key
from recsys.errors import RecsysError
from recsys.sources import detect_format, tcc
from recsys.sources._read import TABLE_SUFFIXES, numeric, read_table, text_fields
from recsys.sources.base import AUDIO_SPOTIFY


def loudness_by_song(folder: Path) -> tuple[pd.Series, pd.Series]:
    """(tcc's scaled loudness, Spotify dB), each averaged per song key over the folder's files."""
    if not folder.is_dir():
        raise RecsysError(f"{folder}: no such folder")
    scaled, decibels = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in TABLE_SUFFIXES):
        df = read_table(path)
        adapter = detect_format(list(df.columns))
        if adapter is None or "loudness" not in df.columns:
            continue
        songs = text_fields(adapter.load(df, path), path)
        keys = [song_key(a, t) for a, t in zip(songs["artist"], songs["title"])]
        if adapter is tcc.ADAPTER:
            scaled.append(pd.Series(numeric(df, "loudness", path).to_numpy(), index=keys))
        elif adapter.audio_rank == AUDIO_SPOTIFY:
            decibels.append(pd.Series(pd.to_numeric(songs["loudness"], errors="coerce").to_numpy(), index=keys))
    if not scaled or not decibels:
        missing = "tcc_ceds" if not scaled else "Spotify-measured"
        raise RecsysError(f"{folder}: holds no {missing} table with a loudness column; give the raw sources folder (../shared/data/raw)")
    per_song = [pd.concat(parts).dropna().groupby(level=0).mean() for parts in (scaled, decibels)]
    return per_song[0], per_song[1]


def main() -> None:
    parser = bench_parser("bench.loudness", __doc__)
    parser.add_argument("raw", type=Path, help="the raw sources folder (../shared/data/raw)")
    add_name_option(parser, "loudness", "data folder")
    args = parser.parse_args()
    scaled, decibels = loudness_by_song(args.raw)
    shared = scaled.index.intersection(decibels.index)
    x, y = scaled[shared].to_numpy(), decibels[shared].to_numpy()
    slope, intercept = np.polyfit(x, y, 1)
    mappings = {
        "least squares (fitted here)": (intercept, intercept + slope),
        "served (recsys.sources.tcc)": tcc.LOUDNESS_DB_RANGE,
        "Spotify's documented range": (-60.0, 0.0),
    }
    rows = []
    for name, (lo, hi) in mappings.items():
        error = lo + (hi - lo) * x - y
        rows.append({"mapping": name, "dB at 0": round(float(lo), 2) + 0.0, "dB at 1": round(float(hi), 2) + 0.0,
                     "median abs error dB": round(float(np.median(np.abs(error))), 2), "mean error dB": round(float(np.mean(error)), 2)})
    settings = {"raw": str(args.raw), "n_shared_songs": len(shared), "n_tcc_songs": len(scaled),
                "correlation": round(float(np.corrcoef(x, y)[0, 1]), 3)}
    report(args.name, rows, title=f"tcc loudness to dB, {len(shared)} songs in both", settings=settings)


if __name__ == "__main__":
    run(main)
