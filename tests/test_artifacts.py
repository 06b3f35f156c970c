"""Artefact directory: atomic publication, manifest, verification failures, update_manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.artifacts import ARTIFACT_FORMAT_VERSION, ArtifactWriter, load_artifacts, update_manifest
from recsys.dense import DenseIndex
from recsys.errors import RecsysError
from recsys.lexical import BM25Index

LYRICS = [["ocean", "wave", "night"], ["city", "night", "light"], ["fire", "desire"], ["ocean", "blue"]]


def _build(out: Path, *, fail_midway: bool = False, marker: str = "first") -> None:
    embeddings = np.random.default_rng(0).normal(size=(len(LYRICS), 8)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    writer = ArtifactWriter(out, params={"marker": marker}, hashes={"catalog": "c" * 64, "model": "m" * 64})
    with writer as stage:
        pd.DataFrame({"song_id": [f"s{i}" for i in range(len(LYRICS))]}).to_parquet(stage / "songs.parquet")
        np.save(stage / "embeddings.npy", embeddings)
        np.save(stage / "embedding_mean.npy", np.zeros(embeddings.shape[1], dtype=np.float32))
        np.save(stage / "pooled.npy", embeddings)
        DenseIndex.build(embeddings).save(stage / "faiss.index")
        BM25Index.build(LYRICS).save(stage / "bm25")
        (stage / "clusters.json").write_text(json.dumps({"k": 2}))
        if fail_midway:
            raise KeyboardInterrupt
        writer.params["chosen_k"] = 2


@pytest.fixture()
def built(tmp_path: Path) -> Path:
    _build(tmp_path / "A")
    return tmp_path / "A"


def test_load_round_trip(built: Path) -> None:
    art = load_artifacts(built, verify="full")
    manifest = art.manifest
    assert manifest["format_version"] == ARTIFACT_FORMAT_VERSION
    assert manifest["params"] == {"marker": "first", "chosen_k": 2}
    assert manifest["blend_weight"] == 0.5 and manifest["tuning"] is None
    assert manifest["hashes"]["catalog"] == "c" * 64
    assert {"songs.parquet", "embeddings.npy", "faiss.index", "bm25/counts/indptr.npy", "bm25/weights/data.npy"} <= set(manifest["hashes"]["files"])
    assert manifest["packages"]["numpy"] == np.__version__
    assert isinstance(art.embeddings, np.memmap) and art.pooled is not None and art.clusters == {"k": 2}
    _, rows = art.dense.search(np.asarray(art.embeddings[:2]), 1)
    assert rows[:, 0].tolist() == [0, 1]
    assert art.lexical.top_k(["desire"], 1)[0].tolist() == [2]


def test_interrupted_build_leaves_previous_build_untouched(built: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _build(built, fail_midway=True, marker="second")
    assert load_artifacts(built).manifest["params"]["marker"] == "first"
    assert [p.name for p in built.parent.iterdir()] == ["A"]  # no staging leftovers
    _build(built, marker="second")
    assert load_artifacts(built).manifest["params"]["marker"] == "second"


def test_output_paths_never_replace_other_work(built: Path, tmp_path: Path) -> None:
    from recsys.catalog import save_catalog
    from recsys.demo import generate_demo

    # A build aimed at a folder of other files (a mistyped --out) refuses before writing.
    work = tmp_path / "work"
    (work / "raw").mkdir(parents=True)
    (work / "raw" / "songs.csv").write_text("title\n")
    with pytest.raises(RecsysError, match="holds no manifest.json"):
        _build(work)
    assert (work / "raw" / "songs.csv").read_text() == "title\n"
    (work / "manifest.json").write_text('{"name": "my web app"}')  # a manifest.json, but not ours
    with pytest.raises(RecsysError, match="holds no manifest.json of recsys's"):
        _build(work)
    (work / "manifest.json").unlink()
    # A file written where a directory stands, or a directory where a file stands, is refused.
    with pytest.raises(RecsysError, match="is a directory; give a file path"):
        save_catalog(generate_demo(20, seed=0), work)
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(RecsysError, match="is a file; give a directory path"):
        _build(tmp_path / "notes.txt")
    with pytest.raises(RecsysError, match="notes.txt is a file, so nothing can be written under it"):
        _build(tmp_path / "notes.txt" / "deeper" / "A")
    with pytest.raises(RecsysError, match="notes.txt is a file, so nothing can be written under it"):
        save_catalog(generate_demo(20, seed=0), tmp_path / "notes.txt" / "c.parquet")
    assert (tmp_path / "notes.txt").read_text() == "keep" and list(work.rglob("*")) == [work / "raw", work / "raw" / "songs.csv"]
    # An earlier build, or an empty folder, is replaced.
    _build(built, marker="second")
    (tmp_path / "empty").mkdir()
    _build(tmp_path / "empty")
    assert load_artifacts(built).manifest["params"]["marker"] == "second" and load_artifacts(tmp_path / "empty")


def test_update_manifest(built: Path) -> None:
    update_manifest(built, blend_weight=0.62, tuning={"objective": "precision@10", "best": 0.31})
    art = load_artifacts(built, verify="full")  # the manifest itself is not in its file table
    assert art.blend_weight == 0.62 and art.manifest["tuning"]["best"] == 0.31
    with pytest.raises(RecsysError, match="written by the build only"):
        update_manifest(built, hashes={})


def test_damage_is_reported_naming_the_file(built: Path, tmp_path: Path) -> None:
    with pytest.raises(RecsysError, match="artefact directory not found"):
        load_artifacts(tmp_path / "nowhere")
    with pytest.raises(RecsysError, match="songs.parquet: is a file; give the artefact directory"):
        load_artifacts(built / "songs.parquet")

    # Same size, different bytes: only the full check sees it.
    index_file = built / "faiss.index"
    blob = bytearray(index_file.read_bytes())
    blob[-1] ^= 0xFF
    index_file.write_bytes(bytes(blob))
    load_artifacts(built)
    with pytest.raises(RecsysError, match="faiss.index: SHA-256 does not match"):
        load_artifacts(built, verify="full")

    with open(built / "embeddings.npy", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(RecsysError, match="embeddings.npy: .* bytes, manifest says"):
        load_artifacts(built)

    (built / "bm25" / "vocab.json").unlink()
    with pytest.raises(RecsysError, match="vocab.json: missing"):
        load_artifacts(built)

    manifest = built / "manifest.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = ARTIFACT_FORMAT_VERSION + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(RecsysError, match=f"format version {ARTIFACT_FORMAT_VERSION + 1}"):
        load_artifacts(built)
    manifest.write_text("{not json")
    with pytest.raises(RecsysError, match="manifest.json: unreadable JSON"):
        load_artifacts(built)
    manifest.unlink()
    with pytest.raises(RecsysError, match="manifest.json: missing"):
        load_artifacts(built)


@pytest.mark.parametrize(("edit", "message"), [
    ({"blend_weight": None}, "blend_weight must be a number in \\[0, 1\\], got None"),
    ({"blend_weight": "abc"}, "blend_weight must be a number in \\[0, 1\\], got 'abc'"),
    ({"audio_weight": 1.5}, "audio_weight must be a number in \\[0, 1\\], got 1.5"),
    ({"hashes": ["x"]}, "no file table under hashes.files"),
    ({"hashes": {"files": {"songs.parquet": "abc"}}}, "no file table under hashes.files"),
    ({"hashes": {"files": {"songs.parquet": {"bytes": "12", "sha256": "ab"}}}}, "the entry of 'songs.parquet' needs a whole number of bytes"),
    ({"params": ["x"]}, "params must be a JSON object"),
    ({"params": {"mood_labels": 5}}, "params.mood_labels must be a list of label names"),
    ({"params": {"n_without_lyrics": "abc"}}, "params.n_without_lyrics must be a whole number, got \"abc\""),
    ({"params": {"n_without_lyrics": 1e400}}, "params.n_without_lyrics must be a whole number, got Infinity"),
    ({"params": {"max_chunks": "abc"}}, "params.max_chunks must be a whole number above 0, or null"),
    ({"params": {"model": 123}}, "params.model must be a model directory's path, or null, got 123"),
    ({"params": {"model": ""}}, "params.model must be a model directory's path, or null"),
    ({"tuning": {"files": ["tuning.json"]}}, "tuning must be a JSON object whose files map names to paths"),
])
def test_a_hand_edited_manifest_is_one_line_naming_it(built: Path, edit: dict, message: str) -> None:
    manifest = built / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **edit}))
    with pytest.raises(RecsysError, match=f"manifest.json: {message}"):
        load_artifacts(built)


def test_a_damaged_npy_header_is_one_line_without_numpy_advice(built: Path) -> None:
    path = built / "embedding_mean.npy"
    blob = bytearray(path.read_bytes())
    blob[10:20] = b"#" * 10
    path.write_bytes(bytes(blob))
    with pytest.raises(RecsysError, match="embedding_mean.npy: not a valid .npy file") as info:
        load_artifacts(built)
    assert "allow_pickle" not in str(info.value)


def test_a_clusters_file_of_the_wrong_shape_is_one_line(built: Path) -> None:
    from recsys.io import sha256_file

    path = built / "clusters.json"
    path.write_text(json.dumps({"keywords": ["rain", "grey"]}))
    manifest = json.loads((built / "manifest.json").read_text())
    # Rewritten with a matching manifest entry, as a hand edit that also fixed the hashes would be.
    manifest["hashes"]["files"]["clusters.json"] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    (built / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RecsysError, match="clusters.json: expected an object whose keywords map clusters to lists of words"):
        load_artifacts(built)


@pytest.mark.parametrize("entry", ["../outside.npy", "/etc/hostname", "bm25/../../x", "./songs.parquet"])
def test_manifest_entries_outside_the_directory_are_refused(built: Path, entry: str) -> None:
    manifest = built / "manifest.json"
    data = json.loads(manifest.read_text())
    data["hashes"]["files"][entry] = {"sha256": "0" * 64, "bytes": 1}
    manifest.write_text(json.dumps(data))
    with pytest.raises(RecsysError, match="lies outside the artefact directory"):
        load_artifacts(built)


def test_files_the_manifest_does_not_list_are_reported_and_never_read(built: Path) -> None:
    manifest = built / "manifest.json"
    data = json.loads(manifest.read_text())
    for name in ("clusters.json", "pooled.npy", "faiss.index"):
        del data["hashes"]["files"][name]
    manifest.write_text(json.dumps(data))
    art = load_artifacts(built)
    assert art.clusters is None and art.pooled is None
    with pytest.raises(RecsysError, match="lists no faiss.index; rebuild"):
        art.dense
    with pytest.raises(RecsysError, match=r"3 file\(s\) not in manifest.json, e.g. 'clusters.json'"):
        load_artifacts(built, verify="full")


def test_tuning_outputs_are_expected_beside_the_listed_files(built: Path) -> None:
    (built / "plots").mkdir()
    (built / "plots" / "tuning.png").write_bytes(b"png")
    (built / "tuning.json").write_text("{}")
    update_manifest(built, tuning={"files": {"trace": "tuning.json", "plot": "plots/tuning.png"}})
    load_artifacts(built, verify="full")
    # A tune killed while writing leaves its staging folder; the next write clears it.
    (built / ".manifest.json.ab12cd34.tmp").mkdir()
    (built / ".manifest.json.ab12cd34.tmp" / "owner.pid").write_text("1")
    (built / "plots" / ".tuning.png.ef56gh78.tmp").mkdir()  # a tune still running writes its plot here
    (built / "plots" / ".tuning.png.ef56gh78.tmp" / "owner.pid").write_text("1")
    load_artifacts(built, verify="full")
    (built / "notes.txt").write_text("mine")
    with pytest.raises(RecsysError, match="1 file\\(s\\) not in manifest.json, e.g. 'notes.txt'"):
        load_artifacts(built, verify="full")


def test_a_damaged_npy_header_is_a_one_line_error(tmp_path: Path) -> None:
    from recsys.io import load_npy

    path = tmp_path / "embeddings.npy"
    np.save(path, np.zeros((3, 2), dtype=np.float32))
    header = path.read_bytes()[:128]
    with open(path, "r+b") as handle:  # same size, so the manifest's size check passes
        handle.seek(header.index(b"}"))
        handle.write(b" ")
    with pytest.raises(RecsysError, match="embeddings.npy: not a valid .npy file"):
        load_npy(path)


def test_a_rebuild_after_loading_is_refused_not_mixed_in(tmp_path: Path) -> None:
    from test_recommend import write_tiny_artifacts

    from recsys.recommend import Recommender

    path = write_tiny_artifacts(tmp_path / "a")
    rec = Recommender.load(path)  # FAISS and BM25 open on first use, by path
    write_tiny_artifacts(path, id_prefix="new")  # the same 8 rows, another build
    with pytest.raises(RecsysError, match="a: rebuilt since these artefacts were loaded; load them again"):
        rec.similar(0, k=3)
    tuned = Recommender.load(path)
    update_manifest(path, blend_weight=0.7)  # tuning rewrites the manifest, not the build's files
    assert [r["row"] for r in tuned.similar(0, k=3)] == [r["row"] for r in Recommender.load(path, weight=0.7).similar(0, k=3)]


def test_weights_computed_for_an_earlier_build_are_not_stored_in_a_new_one(tmp_path: Path) -> None:
    from test_recommend import write_tiny_artifacts

    path = write_tiny_artifacts(tmp_path / "a")
    tuned_on = load_artifacts(path).manifest
    write_tiny_artifacts(path, id_prefix="new")  # rebuilt while a tune ran on the old one
    with pytest.raises(RecsysError, match="rebuilt while these weights were computed for the build before it; nothing stored"):
        update_manifest(path, of_build=tuned_on, blend_weight=0.9)
    assert load_artifacts(path).blend_weight == 0.5


@pytest.mark.parametrize("sender", ["this thread", "another thread"])
def test_a_ctrl_c_waits_for_the_end_of_a_held_block(sender: str) -> None:
    import os
    import signal
    import threading

    from recsys.io import interrupts_held

    go = threading.Event()
    # A thread started before the block does not block SIGINT, as torch's threads do not: the
    # system may hand the process's signal to it.
    other = threading.Thread(target=lambda: go.wait() and os.kill(os.getpid(), signal.SIGINT))
    if sender == "another thread":
        other.start()

    def interrupt() -> None:
        if sender == "this thread":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            go.set()
            other.join()

    steps = []
    # Python's own handler, as in a terminal: a shell starts background jobs with SIGINT ignored.
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_held():
                interrupt()
                for _ in range(1000):  # bytecodes at which Python would run a pending handler
                    steps.append("publishing")
                steps.append("published")  # reached: the interrupt waits for the block's end
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored
    finally:
        signal.signal(signal.SIGINT, handler)
    assert steps[-1] == "published"
