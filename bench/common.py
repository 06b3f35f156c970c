"""What every bench script ends with: a rich table on the terminal and the same rows as JSON in
bench/results/<name>.json (with the run's settings), so figures in docs can be traced to a run."""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from recsys.errors import RecsysError
from recsys.io import write_json

RESULTS = Path(__file__).resolve().parent / "results"
_ROOT = Path(__file__).resolve().parent.parent
REAL_CATALOG = _ROOT / "runs" / "real_catalog.parquet"
JOINED = _ROOT.parent / "shared" / "data" / "joined" / "songs_joined.csv"


def real_songs(columns: list[str]) -> tuple[Any, str]:
    """``columns`` of the real songs (missing lyrics as ""), and where they were read: the imported
    catalogue if this checkout has one, else the shared joined CSV."""
    import pandas as pd

    if REAL_CATALOG.is_file():
        songs, source = pd.read_parquet(REAL_CATALOG, columns=columns), REAL_CATALOG
    elif JOINED.is_file():
        songs, source = pd.read_csv(JOINED, usecols=columns), JOINED
    else:
        raise RecsysError(f"no real catalogue: neither {REAL_CATALOG} nor {JOINED} exists")
    if "lyrics" in songs:
        songs["lyrics"] = songs["lyrics"].fillna("")
    return songs, str(source)


def bench_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The argument parser of ``bench.NAME``: usage as it is run (``python -m bench.NAME``), and the
    docstring's whole first paragraph as its description."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=" ".join((doc or "").split("\n\n")[0].split()))


def run(main: Callable[[], None]) -> None:
    """Run a bench's ``main`` as the CLI runs a command: a RecsysError (a missing artefact
    directory, a build of the wrong kind) is one ``error:`` line and exit code 2."""
    try:
        main()
    except RecsysError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def count(value: str) -> int:
    """An argparse type: a whole number of at least 1 (queries, rounds, songs)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def tbert_artifacts(path: Path) -> Any:
    """The artefacts at ``path``, which must be a tBERT build: the studies need its mood head and
    hidden layer, and a plain-encoder build would give rows that look like results."""
    from recsys.artifacts import load_artifacts

    artifacts = load_artifacts(path)
    kind = (artifacts.manifest.get("params") or {}).get("model_kind")
    if kind != "tbert":
        raise RecsysError(f"{path}: built with a plain encoder ({kind}), not a tBERT model; this bench studies a tBERT build")
    return artifacts


@dataclass(frozen=True)
class StudiedBuild:
    """A tBERT build as the ranking studies read it."""

    artifacts: Any
    served: Any  # recsys.recommend.Recommender at the manifest's weights
    labels: Any  # recsys.evaluate.Labels of its songs
    split: Any  # (n,) str: each song's split, "" where it has none


def study_parser(module: str, doc: str | None, name: str) -> argparse.ArgumentParser:
    """The parser of a study of one tBERT build: its artefact directory and ``--name``."""
    parser = bench_parser(module, doc)
    parser.add_argument("artifacts", type=Path, help="an artefact directory built with a tBERT model")
    add_name_option(parser, name, "artefact build")
    return parser


def load_studied_build(path: Path) -> StudiedBuild:
    """The tBERT build at ``path`` (:func:`tbert_artifacts`), its served ranker, labels and splits."""
    from recsys.evaluate import Labels
    from recsys.recommend import Recommender

    artifacts = tbert_artifacts(path)
    songs = artifacts.songs
    split = songs["split"].astype("string").fillna("").to_numpy(str)
    return StudiedBuild(artifacts, Recommender(artifacts), Labels.from_songs(songs), split)


def add_name_option(parser: argparse.ArgumentParser, default: str, keep_one_per: str) -> None:
    """``--name``: the results file's name, so runs that must not overwrite each other (another
    machine, catalogue or build) each keep theirs."""
    parser.add_argument("--name", default=default, type=_plain_name, help=f"results file: bench/results/NAME.json (keep one per {keep_one_per})")


def _plain_name(value: str) -> str:
    # A path would put the results outside bench/results (an absolute one anywhere on disk).
    if value in ("", ".", "..") or Path(value).name != value:
        raise argparse.ArgumentTypeError(f"{value!r} is not a plain file name")
    return value


def report(name: str, rows: list[dict[str, Any]], *, title: str, settings: dict[str, Any] | None = None) -> Path:
    """Print ``rows`` (dicts sharing keys) as a table and write them, with ``settings`` and the
    machine, to bench/results/``name``.json; return that path."""
    table = Table(title=title)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        table.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    Console().print(table)
    path = RESULTS / f"{name}.json"
    write_json(
        path,
        {
            "name": name,
            "title": title,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor()},
            "settings": settings or {},
            "rows": rows,
        },
    )
    return path


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
