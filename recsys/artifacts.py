"""The artefact directory the batch job writes and the query path reads (docs/ARCHITECTURE.md §3).

Writing: ``ArtifactWriter`` stages the whole directory beside its target and renames it into
place only when the build finished and manifest.json is written, so a build killed half way
leaves the previous one untouched.

Reading: ``load_artifacts`` checks the manifest before anything is used. Sizes of every file are
checked always (cheap; catches truncation, and swapped files of another size); full SHA-256
hashes only with ``verify="full"`` (``recsys index verify``), because hashing a large embeddings
file on every query would cost seconds. Same-size damage is found by the hashes, or by the
query path where it reads NaN or infinite values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import faiss
import numpy as np

import recsys
from recsys.dense import DenseIndex
from recsys.errors import RecsysError
from recsys.io import atomic_path, is_staging, load_npy, sha256_file, write_json
from recsys.lexical import BM25Index
from recsys.songtable import SongTable
from recsys.text import shorten

if TYPE_CHECKING:
    import pandas as pd

# 2: BM25 index format 2 (term-major weights saved). 3: embeddings.npy centred on the catalogue
# mean, which embedding_mean.npy keeps for query vectors.
ARTIFACT_FORMAT_VERSION = 3
MANIFEST = "manifest.json"
SONGS = "songs.parquet"
EMBEDDINGS = "embeddings.npy"
EMBEDDING_MEAN = "embedding_mean.npy"
POOLED = "pooled.npy"
FAISS_INDEX = "faiss.index"
BM25_DIR = "bm25"
CLUSTERS = "clusters.json"
REQUIRED = (SONGS, EMBEDDINGS, EMBEDDING_MEAN)
DEFAULT_BLEND_WEIGHT = 0.5
DEFAULT_AUDIO_WEIGHT = 0.0  # until `recsys tune` stores one: the two-signal blend
DEFAULT_ERA_WEIGHT = 0.0
# Written by the build itself; update_manifest must not let a caller overwrite them.
_PROTECTED = frozenset({"format_version", "created", "packages", "hashes"})

Verify = Literal["size", "full"]


def package_versions() -> dict[str, str | None]:
    """Versions of the packages an artefact depends on, read from installed metadata so that
    torch and transformers are never imported here."""
    versions: dict[str, str | None] = {"recsys": recsys.__version__, "faiss": faiss.__version__}
    for name in ("numpy", "pandas", "pyarrow", "scipy", "torch", "transformers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _file_table(root: Path) -> dict[str, dict[str, Any]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {p.relative_to(root).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files}


class ArtifactWriter:
    """Stage an artefact directory and publish it atomically with its manifest.

    ``with ArtifactWriter(out, params=..., hashes={"catalog": ..., "model": ...}) as stage:``
    write songs.parquet, embeddings.npy, ... under ``stage``; ``params`` and ``hashes`` may be
    extended on the writer until the block ends. On a clean exit manifest.json is written
    (hashing every file) and the directory replaces ``out``; on an exception nothing changes.
    """

    def __init__(self, out_dir: str | Path, *, params: dict[str, Any] | None = None, hashes: dict[str, str] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.params: dict[str, Any] = dict(params or {})
        self.hashes: dict[str, str] = dict(hashes or {})
        self._publishing: AbstractContextManager[Path] | None = None

    @contextmanager
    def _publish(self) -> Iterator[Path]:
        with atomic_path(self.out_dir, marker=MANIFEST) as stage:
            stage.mkdir()
            yield stage
            write_json(stage / MANIFEST, self.manifest(stage))

    def __enter__(self) -> Path:
        self._publishing = self._publish()
        return self._publishing.__enter__()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        assert self._publishing is not None, "ArtifactWriter exited without being entered"
        return self._publishing.__exit__(exc_type, exc, tb)

    def manifest(self, stage: Path) -> dict[str, Any]:
        """The manifest for the files now under ``stage``."""
        return {
            "format_version": ARTIFACT_FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "packages": package_versions(),
            "hashes": {**self.hashes, "files": _file_table(stage)},
            "params": self.params,
            "blend_weight": DEFAULT_BLEND_WEIGHT,
            "audio_weight": DEFAULT_AUDIO_WEIGHT,
            "era_weight": DEFAULT_ERA_WEIGHT,
            "tuning": None,
        }


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """manifest.json of an artefact directory, checked for presence, JSON and format version."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise RecsysError(f"{directory}: is a file; give the artefact directory `recsys index build` wrote")
    if not directory.is_dir():
        raise RecsysError(f"{directory}: artefact directory not found (build it with `recsys index build`)")
    path = directory / MANIFEST
    if not path.is_file():
        raise RecsysError(f"{path}: missing; {directory} is not a complete artefact directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecsysError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise RecsysError(f"{path}: expected a JSON object")
    version = manifest.get("format_version")
    if version != ARTIFACT_FORMAT_VERSION:
        raise RecsysError(f"{path}: artefact format version {version!r}, this recsys reads {ARTIFACT_FORMAT_VERSION}; rebuild with `recsys index build`")
    hashes = manifest.get("hashes")
    files = hashes.get("files") if isinstance(hashes, dict) else None
    if not isinstance(files, dict) or not all(isinstance(entry, dict) for entry in files.values()):
        raise RecsysError(f"{path}: no file table under hashes.files")
    for name, entry in files.items():
        # The build writes relative POSIX paths; anything else would read (and vouch for) a file elsewhere.
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or ":" in name or any(part in ("", ".", "..") for part in parts):
            raise RecsysError(f"{path}: file entry {shorten(name)} lies outside the artefact directory")
        if isinstance(entry.get("bytes"), bool) or not isinstance(entry.get("bytes"), int) or not isinstance(entry.get("sha256"), str):
            raise RecsysError(f"{path}: the entry of {shorten(name)} needs a whole number of bytes and a sha256 string; rebuild the artefacts")
    params = manifest.get("params", {})
    if not isinstance(params, dict):
        raise RecsysError(f"{path}: params must be a JSON object")
    for name in ("mood_labels", "genre_labels"):
        labels = params.get(name, [])
        if not (isinstance(labels, list) and all(isinstance(label, str) for label in labels)):
            raise RecsysError(f"{path}: params.{name} must be a list of label names; rebuild the artefacts")
    # Read on the query path: a wrong type would be a traceback there (`index verify` hashes files, not these).
    def whole(value: Any, least: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= least

    model, max_chunks = params.get("model"), params.get("max_chunks")
    for name, valid, expected in (
        ("n_without_lyrics", whole(params.get("n_without_lyrics", 0), 0), "a whole number"),
        ("max_chunks", max_chunks is None or whole(max_chunks, 1), "a whole number above 0, or null"),
        ("model", model is None or (isinstance(model, str) and model != ""), "a model directory's path, or null"),
    ):
        if not valid:
            raise RecsysError(f"{path}: params.{name} must be {expected}, got {json.dumps(params.get(name))[:40]}; rebuild the artefacts")
    tuning = manifest.get("tuning")
    tuned_files = tuning.get("files", {}) if isinstance(tuning, dict) else None
    tuned_hashes = tuning.get("sha256", {}) if isinstance(tuning, dict) else None
    if tuning is not None and not all(
        isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values()) for mapping in (tuned_files, tuned_hashes)
    ):
        raise RecsysError(f"{path}: tuning must be a JSON object whose files map names to paths (and sha256 paths to hashes); rerun `recsys tune`")
    for name, default in (("blend_weight", DEFAULT_BLEND_WEIGHT), ("audio_weight", DEFAULT_AUDIO_WEIGHT), ("era_weight", DEFAULT_ERA_WEIGHT)):
        value = manifest.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise RecsysError(f"{path}: {name} must be a number in [0, 1], got {value!r}; rerun `recsys tune` or rebuild")
    return manifest


def verify_artifacts(directory: str | Path, *, verify: Verify = "size") -> dict[str, Any]:
    """Check every file the manifest lists (size always, SHA-256 with ``verify="full"``) and
    that the required files are there; return the manifest."""
    if verify not in ("size", "full"):
        raise RecsysError(f"verify={verify!r}: choose size or full")
    directory = Path(directory)
    manifest = read_manifest(directory)
    files: dict[str, dict[str, Any]] = manifest["hashes"]["files"]
    for name in REQUIRED:
        if name not in files:
            raise RecsysError(f"{directory / MANIFEST}: lists no {name}")
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise RecsysError(f"{path}: missing (listed in {MANIFEST})")
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise RecsysError(f"{path}: {size} bytes, manifest says {expected.get('bytes')}; the artefacts are damaged, rebuild them")
        if verify == "full" and sha256_file(path) != expected.get("sha256"):
            raise RecsysError(f"{path}: SHA-256 does not match {MANIFEST}; the artefacts are damaged, rebuild them")
    if verify == "full":
        tuning = manifest.get("tuning") or {}
        # `recsys tune` records its files' hashes since 2026-12-07; earlier tunings' files go unchecked.
        for name, digest in (tuning.get("sha256") or {}).items():
            path = directory / name
            if not path.is_file():
                raise RecsysError(f"{path}: missing (written by `recsys tune`, listed in {MANIFEST}); rerun `recsys tune`")
            if sha256_file(path) != digest:
                raise RecsysError(f"{path}: SHA-256 does not match {MANIFEST}; changed after `recsys tune`, rerun it")
        expected_extra = {MANIFEST, *(tuning.get("files") or {}).values()}
        unlisted = sorted(
            name for p in directory.rglob("*") if p.is_file()
            and (name := p.relative_to(directory).as_posix()) not in files and name not in expected_extra and not is_staging(name)
        )
        if unlisted:
            raise RecsysError(f"{directory}: {len(unlisted)} file(s) not in {MANIFEST}, e.g. {shorten(unlisted[0])}; added after the build, so unverified")
    return manifest


def _listed(manifest: dict[str, Any], name: str) -> bool:
    """Whether the build wrote ``name`` (a file, or a folder of files): only listed files are
    read, so a file dropped into the directory later is never used unverified."""
    files = manifest["hashes"]["files"]
    return name in files or any(entry.startswith(name + "/") for entry in files)


@dataclass
class Artifacts:
    """One loaded artefact directory. Embedding matrices are memory-mapped; the FAISS and BM25
    indexes load on first use, so a command that needs only one of them pays for one."""

    path: Path
    manifest: dict[str, Any]
    table: SongTable
    embeddings: np.ndarray
    embedding_mean: np.ndarray  # (d,): subtracted from every vector before it was normalised
    pooled: np.ndarray | None
    clusters: dict[str, Any] | None

    @property
    def blend_weight(self) -> float:
        return float(self.manifest.get("blend_weight", DEFAULT_BLEND_WEIGHT))

    @property
    def audio_weight(self) -> float:
        return float(self.manifest.get("audio_weight", DEFAULT_AUDIO_WEIGHT))

    @property
    def era_weight(self) -> float:
        return float(self.manifest.get("era_weight", DEFAULT_ERA_WEIGHT))

    @property
    def n_without_lyrics(self) -> int:
        """Catalogue songs the build left out for want of lyrics (a title may be one of them)."""
        return int((self.manifest.get("params") or {}).get("n_without_lyrics") or 0)

    @property
    def split_warning(self) -> str | None:
        """Why tuning or evaluating on these songs' splits would mislead, or None: the model was
        trained on a catalogue whose splits differ (``recsys.catalog.split_fingerprint``)."""
        params = self.manifest.get("params") or {}
        trained, built = params.get("model_splits"), params.get("splits")
        if trained and built and trained != built:
            return ("the model was trained on a catalogue whose train/val/test splits differ from this build's "
                    "(another import?), so some validation and test songs here may have been training songs")
        return None

    @cached_property
    def songs(self) -> pd.DataFrame:
        """songs.parquet as a DataFrame, for analysis (tuning, evaluation); the query path uses
        ``table``, which needs no pandas."""
        import pandas as pd

        return pd.read_parquet(self._require(SONGS))

    def _require(self, name: str) -> Path:
        """The path of ``name``, read on first use: checked to be listed, and to be the loaded
        build's file still (a rebuild may have replaced the directory since the load)."""
        if not _listed(self.manifest, name):
            raise RecsysError(f"{self.path / MANIFEST}: lists no {name}; rebuild the artefacts with `recsys index build`")
        if not same_build(read_manifest(self.path), self.manifest):
            # The song table and embeddings in memory are the old build's: rows would point at other songs.
            raise RecsysError(f"{self.path}: rebuilt since these artefacts were loaded; load them again")
        return self.path / name

    @cached_property
    def dense(self) -> DenseIndex:
        index = DenseIndex.load(self._require(FAISS_INDEX))
        if index.ntotal != len(self.table):
            raise RecsysError(f"{self.path / FAISS_INDEX}: indexes {index.ntotal} songs, {SONGS} has {len(self.table)}")
        return index

    @cached_property
    def lexical(self) -> BM25Index:
        index = BM25Index.load(self._require(BM25_DIR))
        if index.n_songs != len(self.table):
            raise RecsysError(f"{self.path / BM25_DIR}: indexes {index.n_songs} songs, {SONGS} has {len(self.table)}")
        return index


def load_artifacts(directory: str | Path, *, verify: Verify = "size") -> Artifacts:
    """Load an artefact directory after checking its manifest; RecsysError (one line, naming
    the file) on a missing directory or file, bad JSON, unknown format version, size or hash
    mismatch, or row counts that disagree."""
    directory = Path(directory)
    manifest = verify_artifacts(directory, verify=verify)
    table = SongTable.read(directory / SONGS)
    embeddings = _load_matrix(directory / EMBEDDINGS, len(table))
    embedding_mean = _load_matrix(directory / EMBEDDING_MEAN, 1, embeddings.shape[1])[0]
    pooled = _load_matrix(directory / POOLED, len(table)) if _listed(manifest, POOLED) else None
    clusters = None
    if _listed(manifest, CLUSTERS):
        try:
            clusters = json.loads((directory / CLUSTERS).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecsysError(f"{directory / CLUSTERS}: unreadable JSON ({exc})") from None
        keywords = clusters.get("keywords", {}) if isinstance(clusters, dict) else None
        if not (isinstance(keywords, dict) and all(isinstance(words, list) for words in keywords.values())):
            raise RecsysError(f"{directory / CLUSTERS}: expected an object whose keywords map clusters to lists of words; rebuild the artefacts")
    return Artifacts(
        path=directory, manifest=manifest, table=table, embeddings=embeddings, embedding_mean=embedding_mean, pooled=pooled, clusters=clusters
    )


def _load_matrix(path: Path, rows: int, dim: int | None = None) -> np.ndarray:
    """A float32 .npy of ``rows`` rows (a 1-D file is one row of ``dim``), memory-mapped."""
    matrix = load_npy(path)
    if matrix.ndim == 1 and dim is not None:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[0] != rows or matrix.dtype != np.float32 or (dim is not None and matrix.shape[1] != dim):
        expected = f"({rows}, {dim if dim is not None else 'd'})"
        raise RecsysError(f"{path}: expected {expected} float32 (rows as in {SONGS}), got {matrix.shape} {matrix.dtype}")
    return matrix


def same_build(manifest: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two manifests describe one build: its file hashes (`recsys tune` rewrites the
    weights and the tuning, never these)."""
    return manifest.get("hashes") == other.get("hashes")


def update_manifest(directory: str | Path, *, of_build: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Set top-level manifest fields (e.g. ``blend_weight``, ``tuning``) and rewrite
    manifest.json atomically; the build's own fields cannot be overwritten. ``of_build``, the
    manifest the fields were computed from: refused if the directory has been rebuilt since."""
    blocked = sorted(_PROTECTED.intersection(fields))
    if blocked:
        raise RecsysError(f"manifest fields {', '.join(blocked)} are written by the build only")
    manifest = read_manifest(directory)
    if of_build is not None and not same_build(manifest, of_build):
        raise RecsysError(f"{directory}: rebuilt while these weights were computed for the build before it; nothing stored, run it again")
    manifest.update(fields)
    write_json(Path(directory) / MANIFEST, manifest)
    return manifest
