"""The ``recsys`` command: a thin typer front. Each command parses, calls one library function,
prints. Heavy imports (torch, training, index) happen inside the commands that need them, so
``recsys similar`` never loads torch.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import typer

from recsys.errors import RecsysError

app = typer.Typer(
    help="Music recommendation and retrieval: songs like this one, from lyrics, audio and tags.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
catalog_app = typer.Typer(help="Import, generate and describe song catalogues.", no_args_is_help=True)
index_app = typer.Typer(help="Build the artefacts the query path reads.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(index_app, name="index")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one line on stderr; return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def command(group: typer.Typer, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a command on ``group`` that turns RecsysError into one line and exit code 2."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(*a: Any, **k: Any) -> Any:
            try:
                return fn(*a, **k)
            except RecsysError as exc:
                raise fail(str(exc)) from None
            except KeyboardInterrupt:
                raise fail("interrupted; nothing half-written was kept", 130) from None

        return group.command(*args, **kwargs)(guarded)

    return register


# --- catalog commands -------------------------------------------------------------------------


@command(catalog_app, "import")
def catalog_import(
    paths: list[Path] = typer.Argument(..., help="Source files or directories (every recognised file below)."),
    out: Path = typer.Option(..., "--out", help="Catalogue Parquet file to write."),
    fmt: str | None = typer.Option(None, "--format", help="Read every input as this format (default: detect)."),
    mapping: Path | None = typer.Option(None, "--mapping", help="TOML column mapping for the generic format."),
    maps: list[str] = typer.Option([], "--map", help="field=column for the generic format, repeatable."),
    tags: Path | None = typer.Option(None, "--tags", help="Your own TOML tag synonym table."),
    keep_unmatched: bool = typer.Option(False, "--keep-unmatched", help="Keep songs never joined to lyrics."),
) -> None:
    """Import public datasets or your own CSV/Parquet into one catalogue."""
    import time

    from recsys.catalog import save_catalog
    from recsys.sources import import_sources

    if maps and mapping is not None:
        raise RecsysError("use either --map or --mapping, not both")
    pairs = [m.split("=", 1) for m in maps]
    bad = next((m for m, p in zip(maps, pairs) if len(p) != 2 or not p[0].strip() or not p[1].strip()), None)
    if bad is not None:
        raise RecsysError(f"--map {bad!r}: expected field=column")
    started = time.perf_counter()
    df = import_sources(
        paths, fmt=fmt, mapping={k.strip(): v.strip() for k, v in pairs} if pairs else mapping, tag_table=tags,
        keep_unmatched=keep_unmatched, on_warning=lambda msg: typer.echo(f"warning: {msg}", err=True),
    )
    save_catalog(df, out)
    typer.echo(
        f"{out}: {len(df)} songs, {int(df['lyrics'].notna().sum())} with lyrics, "
        f"{int(df['mood'].notna().sum())} with mood, {int(df['genres'].str.len().gt(0).sum())} with genre "
        f"({time.perf_counter() - started:.1f} s)"
    )


@command(catalog_app, "demo")
def catalog_demo(
    out: Path = typer.Option(..., "--out", help="Catalogue Parquet file to write."),
    n: int = typer.Option(3000, "--n", help="Number of synthetic songs."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed writes the same catalogue."),
) -> None:
    """Write a synthetic demo catalogue (generated lyrics, audio and labels), labelled synthetic."""
    from recsys.catalog import save_catalog
    from recsys.demo import generate_demo

    df = generate_demo(n=n, seed=seed)
    save_catalog(df, out, metadata={"synthetic": "true", "generator": "recsys.demo", "seed": str(seed), "n": str(n)})
    typer.echo(f"{out}: {len(df)} synthetic demo songs (seed {seed})")


@command(catalog_app, "stats")
def catalog_stats_cmd(
    path: Path = typer.Argument(..., help="Catalogue Parquet file."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON on stdout."),
) -> None:
    """Describe a catalogue: sources, coverage, label distributions, overall and per split."""
    import json

    from rich.console import Console

    from recsys.catalog import catalog_metadata, load_catalog
    from recsys.stats import catalog_stats, render_stats

    stats = catalog_stats(load_catalog(path))
    synthetic = catalog_metadata(path).get("synthetic") == "true"
    if as_json:
        typer.echo(json.dumps({"path": str(path), "synthetic": synthetic, **stats}, indent=2))
        return
    console = Console()
    if synthetic:
        console.print("[yellow]synthetic demo catalogue[/yellow]")
    render_stats(stats, console, title=str(path))

# --- train commands ---------------------------------------------------------------------------

# --- index commands ---------------------------------------------------------------------------


@command(index_app, "build")
def index_build(
    catalog: Path = typer.Option(..., "--catalog", help="Catalogue Parquet file."),
    out: Path = typer.Option(..., "--out", help="Artefact directory to write (replaced atomically)."),
    model: Path | None = typer.Option(None, "--model", help="tBERT checkpoint or plain Hugging Face encoder dir (default: all-MiniLM-L6-v2)."),
    faiss_kind: str = typer.Option("auto", "--faiss", help="auto, flat, hnsw or ivf."),
    seed: int = typer.Option(0, "--seed", help="Seed for UMAP, K-Means and the IVF quantizer."),
    k_min: int = typer.Option(4, "--k-min", help="Smallest number of clusters tried."),
    k_max: int = typer.Option(20, "--k-max", help="Largest number of clusters tried."),
    batch_size: int = typer.Option(32, "--batch-size", help="Chunks per encoder batch (halved on GPU out-of-memory)."),
    quantize: bool = typer.Option(False, "--quantize", help="int8 dynamic quantisation of the encoder (CPU)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: int | None = typer.Option(None, "--threads", help="torch and FAISS threads (default: all)."),
) -> None:
    """Embed, index (FAISS + BM25) and cluster a catalogue's songs into an artefact directory."""
    from index.build import build_index
    from recsys.artifacts import read_manifest

    build_index(
        catalog, model, out, faiss_kind=faiss_kind, k_range=(k_min, k_max), seed=seed, batch_size=batch_size,
        quantize=quantize, device=device, threads=threads,
    )
    params = read_manifest(out)["params"]
    typer.echo(
        f"{out}: {params['n_indexed']} songs indexed ({params['n_without_lyrics']} without lyrics skipped, "
        f"{params['n_chunked']} chunked), {params['model_kind']} embeddings d={params['embedding_dim']}, "
        f"faiss {params['faiss_kind_built']}, k={params['chosen_k']}, "
        f"{params['embed_songs_per_s']} songs/s, stages {params['timings_s']}"
    )


@command(index_app, "verify")
def index_verify(path: Path = typer.Argument(..., help="Artefact directory.")) -> None:
    """Check every artefact file against the SHA-256 hashes in its manifest."""
    from recsys.artifacts import load_artifacts

    artifacts = load_artifacts(path, verify="full")
    typer.echo(f"{path}: ok ({len(artifacts.manifest['hashes']['files'])} files, {len(artifacts.songs)} songs)")

# --- query, tune and evaluate commands --------------------------------------------------------


if __name__ == "__main__":
    sys.exit(app())
