"""The ``recsys`` command: a thin typer front. Each command parses, calls one library function,
prints. Heavy imports (torch, the training and index code) happen inside the commands that need
them, so ``recsys similar`` never loads torch; ``training.options``, which imports nothing heavy,
gives ``recsys train`` its defaults.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable

import typer

from recsys.errors import RecsysError
from recsys.schema import MOODS
from training.options import TrainOptions

TRAINING = TrainOptions()  # the defaults of recsys train

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


def _seed_option(help: str) -> Any:
    # Every consumer takes seeds in [0, 2**31): numpy, UMAP and scikit-learn up to 2**32, FAISS's
    # IVF training a signed 32-bit int. Outside it they fail mid-run.
    return typer.Option(0, "--seed", min=0, max=2**31 - 1, help=help)


def _artifacts_option() -> Any:
    return typer.Option(
        Path("artifacts"), "--artifacts", envvar="RECSYS_ARTIFACTS",
        help="Artefact directory (default: $RECSYS_ARTIFACTS or ./artifacts).",
    )


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

    from recsys.catalog import check_catalog_target, save_catalog
    from recsys.io import check_outside
    from recsys.sources import import_sources

    if maps and mapping is not None:
        raise RecsysError("use either --map or --mapping, not both")
    pairs = [m.split("=", 1) for m in maps]
    bad = next((m for m, p in zip(maps, pairs) if len(p) != 2 or not p[0].strip() or not p[1].strip()), None)
    if bad is not None:
        raise RecsysError(f"--map {bad!r}: expected field=column")
    fields = [p[0].strip() for p in pairs]
    repeated = next((f for i, f in enumerate(fields) if f in fields[:i]), None)
    if repeated is not None:
        raise RecsysError(f"--map names the field {repeated!r} twice; give each field one column")
    for path in paths:
        check_outside(out, input=path)
    check_catalog_target(out)  # before the import's work, not after it
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
    n: int = typer.Option(3000, "--n", help="Number of synthetic songs (at most 100,000)."),
    seed: int = _seed_option("Random seed; the same seed writes the same catalogue."),
) -> None:
    """Write a synthetic demo catalogue (generated lyrics, audio and labels), labelled synthetic."""
    from recsys.catalog import check_catalog_target, save_catalog
    from recsys.demo import generate_demo
    from recsys.io import check_outside

    check_outside(out)
    check_catalog_target(out)  # before generating, not after it
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


@command(app, "train")
def train_cmd(
    catalog: Path = typer.Option(..., "--catalog", help="Catalogue Parquet file (splits from its split column)."),
    out: Path = typer.Option(..., "--out", help="Model directory to write (or, with --compare, the report directory)."),
    compare: bool = typer.Option(False, "--compare", help="Train and score the six comparison variants instead."),
    save_model: Path | None = typer.Option(None, "--save-model", help="With --compare: also save the tBERT variant as a checkpoint here."),
    model: str | None = typer.Option(None, "--model", help="Local Hugging Face encoder directory (default all-MiniLM-L6-v2)."),
    epochs: int = typer.Option(TRAINING.epochs, "--epochs", help="Maximum epochs; the best epoch on the validation songs is kept."),
    patience: int = typer.Option(TRAINING.patience, "--patience", help="Epochs without validation improvement before stopping."),
    select_on: str = typer.Option(TRAINING.select_on, "--select-on", help="Judge epochs by retrieval (validation songs' neighbour precision@10) or loss (validation loss)."),
    refit_epochs: int = typer.Option(TRAINING.refit_epochs, "--refit-epochs", help="Epochs of the head refit on the fine-tuned encoder's song vectors (0: keep the jointly trained head)."),
    contrastive: float = typer.Option(TRAINING.contrastive, "--contrastive", help="Weight of the supervised contrastive term in the head refit (0: classification losses only)."),
    max_length: int = typer.Option(TRAINING.max_length, "--max-length", min=8, help="Tokens per lyric chunk, special tokens included (at most the encoder's positions, 512 for MiniLM)."),
    max_chunks: int | None = typer.Option(None, "--max-chunks", help="Cap chunks per song for training (capped songs are reported)."),
    freeze_layers: int = typer.Option(TRAINING.freeze_layers, "--freeze-layers", help="Frozen, cached lower encoder layers (6 = train the heads only)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Songs per step (default 16 on CPU, 64 on GPU)."),
    lr: float = typer.Option(TRAINING.lr, "--lr", help="Learning rate of the unfrozen encoder layers."),
    head_lr: float = typer.Option(TRAINING.head_lr, "--head-lr", help="Learning rate of the hidden layer and heads."),
    sampler: str = typer.Option(TRAINING.sampler, "--sampler", help="none (shuffle; class weights still apply) or weighted (rare genres drawn more often)."),
    topics_k: int = typer.Option(TRAINING.topics_k, "--topics-k", min=1, help="LDA topics (ignored with --topics-grid)."),
    topics_grid: str | None = typer.Option(None, "--topics-grid", help="Comma list of k to choose from by coherence, e.g. 5,7,10,15."),
    min_genre_songs: int = typer.Option(TRAINING.min_genre_songs, "--min-genre-songs", help="Genres need this many training songs to be a class."),
    seed: int = _seed_option("Seed for every random step."),
    device: str = typer.Option(TRAINING.device, "--device", help="auto, cpu or cuda."),
    precision: str = typer.Option(TRAINING.precision, "--precision", help="auto (bf16 on a GPU or a CPU with AMX or AVX512-BF16, else fp32), fp32 or bf16."),
) -> None:
    """Train the tBERT model (lyrics + LDA topics + audio -> mood and genre), or compare variants."""
    from recsys.catalog import load_catalog
    from recsys.io import check_outside

    check_outside(out, catalogue=catalog, **{"--model": model, "--save-model": save_model})
    if save_model is not None:
        check_outside(save_model, option="--save-model", catalogue=catalog, **{"--out": out})
    df = load_catalog(catalog)
    try:
        grid = tuple(int(k) for k in topics_grid.split(",")) if topics_grid else None
    except ValueError:
        raise RecsysError(f"--topics-grid {topics_grid!r}: expected comma-separated integers") from None
    options = TrainOptions(
        model=model, max_length=max_length, max_chunks=max_chunks, freeze_layers=freeze_layers, epochs=epochs,
        batch_size=batch_size, lr=lr, head_lr=head_lr, patience=patience, topics_k=topics_k, topics_grid=grid,
        min_genre_songs=min_genre_songs, sampler=sampler, select_on=select_on, seed=seed, device=device, precision=precision,
        refit_epochs=refit_epochs, contrastive=contrastive,
    )
    if compare:
        from training.compare import compare as run_compare

        report = run_compare(df, out, options, model_out=save_model)
        for note in report["notes"]:
            typer.echo(note)
        for name, r in report["variants"].items():
            scores = ", ".join(f"{task} macro-F1 {m['macro_f1']:.3f}" for task, m in r["metrics"].items())
            typer.echo(f"{name}: {scores or 'no scores'} ({r['train_s']:.1f} s)")
        typer.echo(f"{out}: compare.md, compare.json and confusion plots written")
        return
    if save_model is not None:
        raise RecsysError("--save-model goes with --compare; without it the model is written to --out")
    from training.train import train

    result = train(df, out, options, log=typer.echo)
    for split in ("val", "test"):
        for task, m in result.metrics[split].items():
            typer.echo(f"{split} {task}: accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} (n={m['n']})")
    for h in result.history:
        # A catalogue without genres (or moods) trains one head; the other tag's precision is NaN.
        values = {tag: h.get(f"val_p@10_{tag}") for tag in ("mood", "genre")}
        neighbours = " ".join(f"{tag} {v:.3f}" for tag, v in values.items() if v is not None and not math.isnan(v))
        typer.echo(f"epoch {h['epoch']}: train loss {h['train_loss']:.3f}, val loss {h['val_loss']:.3f}, val neighbour P@10 {neighbours or 'none'}")
    if result.refit is not None:
        typer.echo(result.refit.summary())
    t = result.timings
    typer.echo(
        f"{out}: trained on {result.n_songs['train']} songs ({result.n_chunked} labelled songs chunked, {result.n_capped} capped), "
        f"best epoch {result.best_epoch} by {select_on}, {result.songs_per_s:.1f} songs/s, {result.step_s:.2f} s/step, "
        f"frozen cache {t.get('frozen_cache_s', 0.0):.0f} s, total {t['total_s']:.0f} s, {result.precision}"
    )

# --- index commands ---------------------------------------------------------------------------


@command(index_app, "build")
def index_build(
    catalog: Path = typer.Option(..., "--catalog", help="Catalogue Parquet file."),
    out: Path = typer.Option(..., "--out", help="Artefact directory to write (replaced atomically)."),
    model: Path | None = typer.Option(None, "--model", help="tBERT checkpoint or plain Hugging Face encoder dir (default: all-MiniLM-L6-v2)."),
    faiss_kind: str = typer.Option("auto", "--faiss", help="auto, flat, hnsw or ivf."),
    seed: int = _seed_option("Seed for UMAP, K-Means and the IVF quantizer."),
    k_min: int = typer.Option(4, "--k-min", help="Smallest number of clusters tried."),
    k_max: int = typer.Option(20, "--k-max", help="Largest number of clusters tried."),
    batch_size: int = typer.Option(32, "--batch-size", help="Chunks per encoder batch (halved on GPU out-of-memory)."),
    precision: str = typer.Option("auto", "--precision", help="auto (bf16 on a GPU or a CPU with AMX or AVX512-BF16, else fp32), fp32, bf16, or int8 (dynamic quantisation, CPU)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    threads: int | None = typer.Option(None, "--threads", help="torch and FAISS threads (default: all)."),
    max_chunks: int | None = typer.Option(None, "--max-chunks", help="Embed only each song's first N chunks (default: as the tBERT model was trained, all unless its training capped them; capped songs are reported)."),
) -> None:
    """Embed, index (FAISS + BM25) and cluster a catalogue's songs into an artefact directory."""
    from index.build import build_index
    from recsys.artifacts import read_manifest
    from recsys.io import check_outside

    check_outside(out, catalogue=catalog, **{"--model": model})
    try:
        replaced = read_manifest(out)
    except RecsysError:
        replaced = {}  # nothing there yet, or a damaged or older build that the rebuild replaces
    build_index(
        catalog, model, out, faiss_kind=faiss_kind, k_range=(k_min, k_max), seed=seed, batch_size=batch_size,
        precision=precision, device=device, threads=threads, max_chunks=max_chunks,
    )
    params = read_manifest(out)["params"]
    cap = f" to their first {params['max_chunks']} chunks" if params["max_chunks"] else ""
    typer.echo(
        f"{out}: {params['n_indexed']} songs indexed ({params['n_without_lyrics']} without lyrics skipped, "
        f"{params['n_chunked']} chunked, {params['n_capped']} capped{cap}), {params['model_kind']} embeddings d={params['embedding_dim']}, "
        f"faiss {params['faiss_kind_built']}, k={params['chosen_k']}, "
        f"{params['embed_songs_per_s']} songs/s ({params['precision_used']}), stages {params['timings_s']}"
    )
    if params["chosen_k"] == k_min:
        # The rule's best is the smallest k tried: fewer clusters might score higher still.
        typer.echo(f"note: k = {k_min} is the smallest number of clusters tried (--k-min); a lower --k-min may find fewer, or a higher one finer clusters")
    if replaced.get("tuning"):
        # New embeddings need weights of their own; said, since `similar` would quietly use the defaults.
        typer.echo(f"note: the replaced build's tuned weights (w = {replaced['blend_weight']:.4f}, a = {replaced['audio_weight']:.4f}, "
                   f"e = {replaced.get('era_weight', 0.0):.4f}) "
                   "are not carried over; run recsys tune")


@command(index_app, "verify")
def index_verify(
    path: Path | None = typer.Argument(None, help="Artefact directory (or --artifacts, as the other commands take it)."),
    artifacts_dir: Path = _artifacts_option(),
) -> None:
    """Check every artefact file against the SHA-256 hashes in its manifest."""
    from recsys.artifacts import load_artifacts

    path = path or artifacts_dir
    artifacts = load_artifacts(path, verify="full")
    typer.echo(f"{path}: ok ({len(artifacts.manifest['hashes']['files'])} files, {len(artifacts.songs)} songs)")

# --- query, tune and evaluate commands --------------------------------------------------------


# Options shared by `similar` and `search`, which rank the same way.
K_OPTION = typer.Option(10, "-k", "--k", help="Number of songs to return. Past 100 the candidate lists deepen to k each, so the first songs can differ from a smaller k's.")
MOOD_OPTION = typer.Option(None, "--mood", help=f"Only songs with this mood: {', '.join(MOODS)} (tagged, or predicted by the model where untagged).")
GENRE_OPTION = typer.Option(None, "--genre", help="Only songs with this genre (tagged, or predicted by the model where untagged).")
TAGGED_ONLY_OPTION = typer.Option(False, "--tagged-only", help="Match --mood and --genre on the songs' tags alone, never on predictions.")
YEAR_FROM_OPTION = typer.Option(None, "--year-from", help="Only songs from this year on.")
YEAR_TO_OPTION = typer.Option(None, "--year-to", help="Only songs up to this year.")
EXCLUDE_ARTIST_OPTION = typer.Option(None, "--exclude-artist", help="Leave out this artist's songs (matched as --artist is: \"groban\" is Josh Groban).")
EXPLAIN_OPTION = typer.Option(False, "--explain", help="Say why each song was chosen.")
JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")
WEIGHT_OPTION = typer.Option(None, "--weight", help="Blend weight w of the cosine (default: the tuned one).")
AUDIO_WEIGHT_OPTION = typer.Option(None, "--audio-weight", help="Weight a of the audio-feature similarity (default: the tuned one; 0 turns it off).")
ERA_WEIGHT_OPTION = typer.Option(None, "--era-weight", help="Weight e of the era agreement (how close the songs' years are; default: the tuned one; 0 turns it off).")
FUSION_OPTION = typer.Option("linear", "--fusion", help="linear (w-blend) or rrf (reciprocal rank fusion).")


def _explanation(why: dict[str, Any]) -> list[str]:
    """The lines of one result's --explain block (a few matched words, never the lyrics)."""
    lines = [f"words: {', '.join(why['matched_terms'])}"] if why["matched_terms"] else []
    if "shared_cluster" in why:
        lines.append(f"same cluster {why['shared_cluster']['cluster']}: {', '.join(why['shared_cluster']['keywords'][:6])}")
    for name in ("mood_probs", "genre_probs"):
        if why.get(name):
            lines.append(f"predicted {name.removesuffix('_probs')}: " + ", ".join(f"{label} {p:.2f}" for label, p in why[name].items()))
    if why.get("year_gap") is not None:
        lines.append(f"years apart: {why['year_gap']}")
    diffs = why.get("audio_differences", [])
    if diffs:
        lines.append("audio differs most in " + ", ".join(f"{d['feature']} ({d['query']} vs {d['song']}, {d['sd']} sd)" for d in diffs))
    return lines


# Below this many columns the results table would cut every cell to a character or two.
NARROW = 60


def _score_caption(recommender: Any, song_query: bool = True) -> str:
    """How the score column was computed (with the audio and era terms it can pass 1);
    ``song_query`` False for a text query, which has no audio or year to compare."""
    from recsys.recommend import RRF_K

    if recommender.fusion == "rrf":
        return f"score = 1 / ({RRF_K} + rank by cosine) + 1 / ({RRF_K} + rank by BM25)"
    w, a, e = recommender.weight, recommender.audio_weight, recommender.era_weight
    terms = [f"{a:.2f} × audio cosine"] * bool(a and song_query) + [f"{e:.2f} × era agreement"] * bool(e and song_query)
    return " + ".join([f"score = {w:.2f} × cosine", f"{1 - w:.2f} × BM25 / best BM25", *terms])


def _show_results(title: str, results: list[dict[str, Any]], explain: bool, caption: str = "") -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    title = escape(title)  # song titles and queries may hold brackets that rich would read as markup
    if not results:
        console.print(f"{title}: no song passes the filters")
        return
    if console.width < NARROW:
        # Eight columns cannot share a narrow terminal; one line a song keeps every year and score whole.
        console.print(title)
        for r in results:
            year = f" ({r['year']})" if r["year"] else ""
            console.print(f"{r['rank']}. {escape(r['title'])} — {escape(r['artist'])}{year} {r['score']:.3f}", highlight=False)
    else:
        # An untagged song shows the model's prediction, starred, so that the mood a filter matched is on screen.
        moods = [r["mood"] or (f"{r['predicted_mood']}*" if r["predicted_mood"] else "") for r in results]
        genres = [", ".join(r["genres"]) or ", ".join(f"{g}*" for g in r["predicted_genres"]) for r in results]
        if any(cell.endswith("*") for cell in moods + genres):
            caption += "\n* predicted by the model: the song has no such tag"
        table = Table(title=title, title_justify="left", caption=escape(caption), caption_justify="left")
        for name in ("#", "title", "artist", "year", "score", "mood", "genres", "cluster"):
            table.add_column(name, justify="right" if name in ("#", "year", "score", "cluster") else "left")
        for r, mood, genre in zip(results, moods, genres):
            table.add_row(str(r["rank"]), escape(r["title"]), escape(r["artist"]), str(r["year"] or ""), f"{r['score']:.3f}",
                          mood, escape(genre), "" if r["cluster"] is None else str(r["cluster"]))
        console.print(table)
    if explain:
        # Below the table rather than in a column: a narrow terminal would wrap it a word a line.
        for r in results:
            console.print(f"[bold]{r['rank']}. {escape(r['title'])} — {escape(r['artist'])}[/bold]")
            for line in _explanation(r["why"]) or ["no lyric term or cluster in common"]:
                console.print(f"   {escape(line)}", highlight=False)


def _filters(mood: str | None, genre: str | None, year_from: int | None, year_to: int | None, exclude_artist: str | None, tagged_only: bool) -> Any:
    from recsys.recommend import Filters

    return Filters(mood=mood, genre=genre, year_from=year_from, year_to=year_to, exclude_artist=exclude_artist, tagged_only=tagged_only)


@command(app, "similar")
def similar_cmd(
    title: str | None = typer.Argument(None, help="Song title (exact, normalised or fuzzy match)."),
    artifacts: Path = _artifacts_option(),
    artist: str | None = typer.Option(None, "--artist", help="Narrow the title to this artist."),
    song_id: str | None = typer.Option(None, "--id", help="The song by its id (as --json prints it) instead of a title."),
    k: int = K_OPTION,
    mood: str | None = MOOD_OPTION,
    genre: str | None = GENRE_OPTION,
    year_from: int | None = YEAR_FROM_OPTION,
    year_to: int | None = YEAR_TO_OPTION,
    exclude_artist: str | None = EXCLUDE_ARTIST_OPTION,
    tagged_only: bool = TAGGED_ONLY_OPTION,
    explain: bool = EXPLAIN_OPTION,
    as_json: bool = JSON_OPTION,
    weight: float | None = WEIGHT_OPTION,
    audio_weight: float | None = AUDIO_WEIGHT_OPTION,
    era_weight: float | None = ERA_WEIGHT_OPTION,
    fusion: str = FUSION_OPTION,
) -> None:
    """Songs like the given one: BM25 ∪ FAISS candidates, reranked by a tuned blend.

    Exits with status 2 when the title (or id) is unknown or the title ambiguous."""
    import json

    from recsys.recommend import Recommender

    if song_id is not None and (title is not None or artist is not None):
        raise RecsysError("--id names the song by itself: give it without a title or --artist")
    if song_id is None and title is None:
        raise RecsysError('give a song title, e.g. recsys similar "Yesterday", or --id')
    recommender = Recommender.load(artifacts, weight=weight, audio_weight=audio_weight, era_weight=era_weight, fusion=fusion)
    row = recommender.find_id(song_id) if song_id is not None else recommender.find(title, artist)
    results = recommender.similar(row, k, _filters(mood, genre, year_from, year_to, exclude_artist, tagged_only), explain)
    query = {"row": row, **{name: str(recommender.songs.values(name)[row]) for name in ("song_id", "title", "artist")}}
    if as_json:
        typer.echo(json.dumps({"query": query, "results": results}, indent=2, ensure_ascii=False))
        return
    _show_results(f"Songs like {query['title']} — {query['artist']}", results, explain, _score_caption(recommender))


@command(app, "search")
def search_cmd(
    text: str = typer.Argument(..., help="Free text, e.g. a lyric fragment or a theme."),
    artifacts: Path = _artifacts_option(),
    k: int = K_OPTION,
    mood: str | None = MOOD_OPTION,
    genre: str | None = GENRE_OPTION,
    year_from: int | None = YEAR_FROM_OPTION,
    year_to: int | None = YEAR_TO_OPTION,
    exclude_artist: str | None = EXCLUDE_ARTIST_OPTION,
    tagged_only: bool = TAGGED_ONLY_OPTION,
    explain: bool = EXPLAIN_OPTION,
    as_json: bool = JSON_OPTION,
    weight: float | None = WEIGHT_OPTION,
    fusion: str = FUSION_OPTION,
    model: Path | None = typer.Option(None, "--model", help="The model the artefacts were built with, if it has moved since (its files are checked against the manifest)."),
) -> None:
    """Songs matching free text (loads the encoder, so slower than `similar`)."""
    import json

    from index.embed import query_encoder
    from recsys.artifacts import load_artifacts
    from recsys.search import TextSearch
    from recsys.text import shorten

    loaded = load_artifacts(artifacts)
    searcher = TextSearch(loaded, query_encoder(loaded, model), weight=weight, fusion=fusion)
    results = searcher.search(text, k, _filters(mood, genre, year_from, year_to, exclude_artist, tagged_only), explain)
    if as_json:
        typer.echo(json.dumps({"query": text, "results": results}, indent=2, ensure_ascii=False))
        return
    _show_results(f"Songs matching {shorten(text, 60)}", results, explain, _score_caption(searcher.recommender, song_query=False))


@command(app, "tune")
def tune_cmd(
    artifacts: Path = _artifacts_option(),
    k: int = typer.Option(10, "-k", "--k", help="Precision@k is the objective."),
    tag: str = typer.Option("balanced", "--tag", help="Relevance: balanced (mean of mood and genre precision), any, mood or genre."),
    split: str = typer.Option("val", "--split", help="Songs whose tags are the objective."),
    pool: str = typer.Option("labelled", "--pool", help="labelled: each tag type ranks only the songs carrying it (a term cannot win by pulling tagged songs in); all: every song."),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Also tune the weight a of the audio similarity (--no-audio stores a = 0)."),
    era: bool = typer.Option(True, "--era/--no-era", help="Also tune the weight e of the era agreement (--no-era stores e = 0)."),
    n_queries: int | None = typer.Option(None, "--n-queries", help="Use a seeded sample of this many queries."),
    seed: int = _seed_option("Seed of the query sample."),
) -> None:
    """Tune the blend weight w, then the audio weight a, then the era weight e, by golden-section search; store them in the manifest."""
    from recsys.artifacts import load_artifacts
    from recsys.tune import tune_blend

    r = tune_blend(load_artifacts(artifacts), k=k, split=split, tag=tag, pool=pool, n_queries=n_queries, seed=seed, audio=audio, era=era)
    for warning in r.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{r.n_queries} {split} queries, relevance = shared {tag} tag, pool {pool}, objective precision@{k}")
    for name, search, why_not in (
        ("w (a = e = 0)", r.blend, ""),
        (f"a (w = {r.w:.4f}, e = 0)", r.audio, "--no-audio" if not audio else "no query song has audio features"),
        (f"e (w = {r.w:.4f}, a = {r.audio_weight:.4f})", r.era, "--no-era" if not era else "no query song has a year"),
    ):
        if search is None:
            typer.echo(f"{name}: not tuned ({why_not}); {name[0]} = 0")
            continue
        typer.echo(f"{name}: golden-section {search.golden:.4f} -> precision@{k} {search.golden_precision:.4f} ({len(search.trace)} evaluations); "
                   f"grid best {search.grid_best:.2f} -> {search.grid_best_precision:.4f}; kept {search.chosen:.4f} ({search.chosen_by})")
    typer.echo(f"RRF (no weight): precision@{k} {r.rrf_precision:.4f}")
    typer.echo(f"stored blend_weight = {r.w:.4f}, audio_weight = {r.audio_weight:.4f}, era_weight = {r.era_weight:.4f} (precision@{k} {r.precision:.4f}); "
               f"trace {artifacts / r.files['trace']}, plot {artifacts / r.files['plot']}")


@command(app, "evaluate")
def evaluate_cmd(
    artifacts: Path = _artifacts_option(),
    out: Path = typer.Option(..., "--out", help="Directory for evaluation.json, evaluation.md and the chart."),
    ks: list[int] = typer.Option([5, 10, 20], "-k", "--k", help="Cut-offs for precision@k (repeatable; 1 to 100, the candidates each retriever gives a query)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals."),
    seed: int = _seed_option("Seed of the random baseline and the bootstrap."),
    pool: str = typer.Option("all", "--pool", help="all: rank every song; labelled: only songs carrying the scored tag type."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Plain-encoder build of the same catalogue: the off-the-shelf MiniLM row for a tBERT build."),
) -> None:
    """Offline evaluation on test songs' held-out mood and genre tags, against baselines."""
    from rich.console import Console
    from rich.table import Table

    from recsys.artifacts import load_artifacts
    from recsys.evaluate import evaluate, interval_text
    from recsys.io import check_outside

    check_outside(out)
    report = evaluate(load_artifacts(artifacts), out, ks=ks, n_boot=bootstrap, seed=seed, pool=pool,
                      baseline=load_artifacts(baseline) if baseline is not None else None)
    for warning in report["warnings"]:
        typer.echo(f"warning: {warning}", err=True)
    console = Console()
    for tag, block in report["results"].items():
        metrics = list(next(iter(block["systems"].values())))
        table = Table(title=f"{tag}: {block['n_queries']} {report['split']} queries, pool {pool} (mean; precision@10 with 95% interval)", title_justify="left")
        table.add_column("system")
        for metric in metrics:
            # "P@10" rather than "precision@10": at 80 columns the long names were all cut to "precisio…".
            table.add_column(metric.replace("precision@", "P@").replace("same-artist@", "artist@"), justify="right")
        for system, values in block["systems"].items():
            cells = [interval_text(values[m]) if m == "precision@10" else f"{values[m]['mean']:.3f}" for m in metrics]
            table.add_row(system, *cells)
        console.print(table)
        diffs = block.get("hybrid_minus") or {}
        if diffs:
            typer.echo("hybrid minus, precision@10 (paired 95% interval): "
                       + "; ".join(f"{name} {interval_text(d, signed=True)}" for name, d in diffs.items()))
    balanced = report["balanced"]
    if balanced:
        typer.echo("balanced precision@10 (mean of mood and genre): "
                   + "; ".join(f"{name} {v['mean']:.3f}" for name, v in balanced["systems"].items())
                   + ". Hybrid minus (paired 95% interval): "
                   + "; ".join(f"{name} {interval_text(d, signed=True)}" for name, d in balanced.get("hybrid_minus", {}).items()))
    typer.echo(f"wrote {out / 'evaluation.md'}, {out / 'evaluation.json'}, {out / 'evaluation_p10.png'}")


def main() -> None:
    """The ``recsys`` entry point: usage errors (a mistyped option, ``-k abc``) become one
    ``error:`` line and exit code 2, like every other bad input."""
    # typer (pinned, see pyproject) vendors click; these are the exceptions it raises outside
    # standalone mode.
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    from recsys.io import interrupts_remembered

    # transformers draws its own "Loading weights" bar (tqdm) on every model load, also into a
    # log where ours stay quiet; read once, when transformers is first imported.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        with interrupts_remembered():
            code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else "see recsys --help")
        code = 2
    except UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        code = 2
    except (typer.Abort, KeyboardInterrupt):  # the latter: a Ctrl-C after the command returned
        typer.echo("error: interrupted; nothing half-written was kept", err=True)
        code = 130
    except OSError as exc:
        # The machine refused (a full disk, permissions): its reason in one line.
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc).splitlines()[0]
        typer.echo(f"error: {where}{reason}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
