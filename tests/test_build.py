"""End-to-end `index build` on a small demo catalogue with a tiny trained tBERT (2-layer MiniLM),
the killed-build case, and the CLI's one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from recsys.artifacts import load_artifacts, update_manifest
from recsys.catalog import save_catalog, split_fingerprint
from recsys.io import atomic_path
from recsys.schema import AUDIO_FEATURES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory, minilm_dir: Path) -> Path:
    """all-MiniLM-L6-v2 cut to its first 2 layers: real weights, ~3x faster."""
    from transformers import AutoModel, AutoTokenizer

    out = tmp_path_factory.mktemp("tiny_encoder")
    encoder = AutoModel.from_pretrained(str(minilm_dir))
    encoder.encoder.layer = encoder.encoder.layer[:2]
    encoder.config.num_hidden_layers = 2
    encoder.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(minilm_dir)).save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory: pytest.TempPathFactory, demo_catalog_df: pd.DataFrame) -> tuple[Path, pd.DataFrame]:
    """100 demo songs, three of them without lyrics."""
    df = demo_catalog_df.sample(100, random_state=0).reset_index(drop=True)
    df.loc[[3, 40, 77], "lyrics"] = None
    path = tmp_path_factory.mktemp("catalog") / "small.parquet"
    save_catalog(df, path, metadata={"synthetic": "true"})
    return path, df


@pytest.fixture(scope="module")
def tbert_dir(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path, small_catalog: tuple[Path, pd.DataFrame]) -> Path:
    from training.options import TrainOptions
    from training.train import train

    out = tmp_path_factory.mktemp("tbert") / "model"
    train(small_catalog[1], out, TrainOptions(model=tiny_encoder_dir, max_length=64, epochs=1, freeze_layers=2, topics_k=3,
                                              lda_passes=1, min_genre_songs=5, device="cpu", seed=0))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, small_catalog: tuple[Path, pd.DataFrame], tbert_dir: Path) -> Path:
    from index.build import build_index

    out = tmp_path_factory.mktemp("artefacts") / "A"
    return build_index(small_catalog[0], tbert_dir, out, k_range=(3, 6), n_neighbors=10, seed=1, device="cpu", threads=2, progress=False)


def test_build_writes_every_artefact_and_a_verifiable_manifest(built: Path, small_catalog: tuple[Path, pd.DataFrame], tbert_dir: Path) -> None:
    artifacts = load_artifacts(built, verify="full")
    songs, params = artifacts.songs, artifacts.manifest["params"]
    assert {"songs.parquet", "embeddings.npy", "embedding_mean.npy", "pooled.npy", "faiss.index", "bm25/meta.json", "clusters.json",
            "plots/k_selection.png", "plots/umap_clusters.png", "plots/umap_moods.png"} <= set(artifacts.manifest["hashes"]["files"])
    assert {"catalog", "model", "tokenizer"} <= set(artifacts.manifest["hashes"])
    # Songs without lyrics are left out, and said so.
    assert len(songs) == 97 and params["n_without_lyrics"] == 3 and params["model_kind"] == "tbert"
    assert "lyrics" not in songs.columns
    assert set(songs["song_id"]) == set(small_catalog[1].dropna(subset=["lyrics"])["song_id"])
    moods = json.loads((tbert_dir / "config.json").read_text())["moods"]
    assert params["mood_labels"] == moods
    # The model was trained on this very catalogue: the build records both splits, and they agree.
    assert params["splits"] == params["model_splits"] == split_fingerprint(small_catalog[1]) and artifacts.split_warning is None
    mood_probs = np.stack(songs["mood_probs"].to_numpy())
    assert mood_probs.shape == (97, len(moods)) and np.allclose(mood_probs.sum(axis=1), 1.0, atol=1e-5)
    assert ((np.stack(songs["genre_probs"].to_numpy()) >= 0) & (np.stack(songs["genre_probs"].to_numpy()) <= 1)).all()
    for matrix in (artifacts.embeddings, artifacts.pooled):
        assert matrix.dtype == np.float32 and np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert artifacts.pooled.shape == (97, 384) and artifacts.embeddings.shape[1] == params["embedding_dim"]
    # FAISS ids are row numbers: every song finds itself first.
    _, rows = artifacts.dense.search(np.asarray(artifacts.embeddings[:5]), 1)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert artifacts.lexical.n_songs == 97
    assert artifacts.clusters["chosen_k"] in range(3, 7) and songs["cluster"].nunique() == artifacts.clusters["chosen_k"]


def test_genre_probabilities_are_platt_scaled_on_the_validation_songs(built: Path) -> None:
    artifacts = load_artifacts(built)
    songs, params = artifacts.songs, artifacts.manifest["params"]
    genres, calibration = params["genre_labels"], params["genre_calibration"]
    assert list(calibration["per_genre"]) == genres and calibration["fitted_on"] == "val"
    val = songs[(songs["split"] == "val").to_numpy() & songs["genres"].map(lambda gs: bool(set(gs) & set(genres))).to_numpy()]
    assert calibration["n_songs"] == len(val) > 0
    probs = np.stack(val["genre_probs"].to_numpy())
    fitted = [g for g in genres if calibration["per_genre"][g]["fitted"]]
    assert fitted
    for g in fitted:
        # A logistic fit with an intercept reproduces the observed share on the songs it was fitted to.
        share = val["genres"].map(lambda gs, g=g: g in gs).mean()
        assert probs[:, genres.index(g)].mean() == pytest.approx(share, abs=0.005)


def test_build_embeds_as_a_checkpoint_trained_with_max_chunks_was_trained(
    built: Path, small_catalog: tuple[Path, pd.DataFrame], tbert_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli import app

    assert load_artifacts(built).manifest["params"]["max_chunks"] is None  # trained on every chunk, built on every chunk
    capped_model = tmp_path / "model"
    shutil.copytree(tbert_dir, capped_model)
    config = json.loads((capped_model / "config.json").read_text())
    config["train"]["max_chunks"] = 1
    (capped_model / "config.json").write_text(json.dumps(config))
    out = tmp_path / "A"
    result = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--model", str(capped_model), "--out", str(out),
                                      "--k-min", "3", "--k-max", "4", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    params = load_artifacts(out).manifest["params"]
    assert params["max_chunks"] == 1 and params["n_capped"] == params["n_chunked"] > 0
    assert f"{params['n_capped']} capped to their first 1 chunks" in result.output
    assert "not carried over" not in result.output
    # The clustering rule's k at the floor of the range tried is said: fewer clusters were never tried.
    assert ("note: k = 3 is the smallest number of clusters tried (--k-min)" in result.output) == (params["chosen_k"] == 3)
    # A rebuild over a tuned build says that the weights start again from the defaults.
    update_manifest(out, blend_weight=0.8, audio_weight=0.1, era_weight=0.3, tuning={"files": {}})
    again = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--model", str(capped_model), "--out", str(out),
                                     "--k-min", "3", "--k-max", "4", "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert "note: the replaced build's tuned weights (w = 0.8000, a = 0.1000, e = 0.3000) are not carried over; run recsys tune" in again.output
    assert load_artifacts(out).blend_weight == 0.5
    # A build of an older format (unreadable now) is still replaced, not refused.
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}))
    older = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--model", str(capped_model), "--out", str(out),
                                     "--k-min", "3", "--k-max", "4", "--device", "cpu"])
    assert older.exit_code == 0, older.output
    load_artifacts(out, verify="full")


def test_free_text_query_of_a_songs_lyrics_lands_on_its_centred_row(built: Path, small_catalog: tuple[Path, pd.DataFrame]) -> None:
    from index.embed import query_encoder

    artifacts = load_artifacts(built)
    assert artifacts.embedding_mean.shape == (artifacts.embeddings.shape[1],) and np.abs(artifacts.embedding_mean).sum() > 0
    encode = query_encoder(artifacts)
    lyrics = small_catalog[1].set_index("song_id")["lyrics"]
    # A text query has no audio, so take songs without audio: the query then goes through exactly
    # the model, topics and centring their indexed rows went through.
    no_audio = np.flatnonzero(artifacts.songs[list(AUDIO_FEATURES)].isna().all(axis=1).to_numpy())[:3]
    assert len(no_audio)
    for row in no_audio:
        vector = encode(lyrics[artifacts.songs["song_id"][row]])
        assert float(vector @ np.asarray(artifacts.embeddings[row])) > 0.999
        _, rows = artifacts.dense.search(vector, 1)
        assert rows[0, 0] == row


def test_int8_free_text_queries_quantise_the_encoder_once(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.ao.quantization

    from index.embed import query_encoder

    artefacts = tmp_path / "A"
    shutil.copytree(built, artefacts)
    manifest = json.loads((artefacts / "manifest.json").read_text())
    manifest["params"]["precision_used"] = "int8"  # as `index build --precision int8` records it
    (artefacts / "manifest.json").write_text(json.dumps(manifest))
    quantize_dynamic, calls = torch.ao.quantization.quantize_dynamic, []
    monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", lambda *a, **kw: calls.append(1) or quantize_dynamic(*a, **kw))
    encode = query_encoder(load_artifacts(artefacts))
    vectors = [encode(text) for text in ("rain on the window", "dancing all night", "rain on the window")]
    assert len(calls) == 1
    assert np.array_equal(vectors[0], vectors[2]) and float(vectors[0] @ vectors[1]) < 0.9999
    # Close to what the fp32 encoder gives the same text: the quantised copy is the same model.
    assert float(vectors[0] @ query_encoder(load_artifacts(built))("rain on the window")) > 0.9


def _wait_for(pattern: str, root: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if list(root.glob(pattern)):
            return True
        time.sleep(0.2)
    return False


def test_free_text_search_refuses_a_model_changed_since_the_build(built: Path, tbert_dir: Path, tmp_path: Path) -> None:
    from index.embed import query_encoder
    from recsys.errors import RecsysError

    model, artefacts = tmp_path / "model", tmp_path / "A"
    shutil.copytree(tbert_dir, model)
    shutil.copytree(built, artefacts)
    manifest = json.loads((artefacts / "manifest.json").read_text())
    manifest["params"]["model"] = str(model)
    (artefacts / "manifest.json").write_text(json.dumps(manifest))
    query_encoder(load_artifacts(artefacts))("rain on the window")  # an identical copy of the model is accepted
    # A refitted audio scaler changes the vectors as surely as new weights do.
    scaler = json.loads((model / "features.json").read_text())
    (model / "features.json").write_text(json.dumps(scaler, indent=1))
    with pytest.raises(RecsysError, match="model_settings files differ from those .* was built with"):
        query_encoder(load_artifacts(artefacts))("rain on the window")
    # A build from before the settings were hashed cannot be checked, and says so.
    del manifest["hashes"]["model_settings"]
    (artefacts / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RecsysError, match="built before the build recorded its model's settings"):
        query_encoder(load_artifacts(artefacts))("rain on the window")


def test_killed_build_leaves_previous_artefacts_intact(built: Path, small_catalog: tuple[Path, pd.DataFrame], tiny_encoder_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "A"
    shutil.copytree(built, target)
    before = (target / "manifest.json").read_bytes()
    script = (
        "from index.build import build_index; import sys; "
        "build_index(sys.argv[1], sys.argv[2], sys.argv[3], k_range=(3, 6), device='cpu', threads=1, progress=False)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(small_catalog[0]), str(tiny_encoder_dir), str(target)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Half way: embeddings are staged, clustering has not finished.
        reached = _wait_for(".A.*.tmp/A/embeddings.npy", tmp_path, proc, timeout=90)
        assert reached, f"build never reached the embedding stage: {proc.stderr.read().decode()[-500:] if proc.poll() is not None else 'timeout'}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert (target / "manifest.json").read_bytes() == before
    reloaded = load_artifacts(target, verify="full")
    assert len(reloaded.songs) == 97 and reloaded.manifest["params"]["model_kind"] == "tbert"
    # The killed build's half-written temporary goes with the next write of the same target.
    assert list(tmp_path.glob(".A.*.tmp"))
    with atomic_path(target, marker="manifest.json") as staged:
        shutil.copytree(built, staged)
    assert not list(tmp_path.glob(".A.*.tmp"))


def test_stale_temporary_between_the_two_renames_restores_the_old_directory(tmp_path: Path) -> None:
    # A writer killed after moving the old directory aside, before moving the new one in.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".A.x0x0x0x0.tmp"
    (stale / "A.old").mkdir(parents=True)
    (stale / "A.old" / "manifest.json").write_text("{}")
    (stale / "owner.pid").write_text(str(dead.pid))
    live = tmp_path / ".A.y0y0y0y0.tmp"
    live.mkdir()
    (live / "owner.pid").write_text(str(os.getpid()))
    # A dead writer of another target whose name starts like A's ("A.v2"), killed the same way.
    other = tmp_path / ".A.v2.z0z0z0z0.tmp"
    (other / "A.v2.old").mkdir(parents=True)
    (other / "owner.pid").write_text(str(dead.pid))
    with atomic_path(tmp_path / "B") as staged:  # another target's write leaves A's alone
        staged.write_text("b")
    assert stale.exists()
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "A"):
            assert (tmp_path / "A" / "manifest.json").read_text() == "{}"
            raise RuntimeError("stop before writing")
    assert not stale.exists() and live.exists()  # the live writer's temporary is kept
    assert other.exists() and not (tmp_path / "A.v2").exists()  # A.v2's copy is left for A.v2's next write


def test_cli_not_a_model_is_one_line_exit_2(small_catalog: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    (tmp_path / "weights.txt").write_text("not a model")
    for model in (tmp_path, tmp_path / "weights.txt"):
        result = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--model", str(model), "--out", str(tmp_path / "A")])
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "not a model directory" in lines[0]
    assert not (tmp_path / "A").exists()


def test_cli_bad_faiss_kind_is_one_line_exit_2(small_catalog: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--out", str(tmp_path / "A"), "--faiss", "annoy"])
    assert result.exit_code == 2 and result.output.strip().startswith("error: faiss kind 'annoy'")
    # Options used only after the embedding are checked before it.
    for options, message in ((["--k-min", "30", "--k-max", "5"], "k range must satisfy 2 <= low <= high, got 30..5"),
                             (["--threads", "0"], "--threads must be at least 1"), (["--threads", str(10**20)], "--threads must be at most 1024"),
                             (["--max-chunks", "0"], "--max-chunks must be at least 1")):
        result = CliRunner().invoke(app, ["index", "build", "--catalog", str(small_catalog[0]), "--out", str(tmp_path / "A"), *options])
        assert result.exit_code == 2 and result.output.strip().startswith(f"error: {message}"), result.output
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "A").exists()


def test_cli_catalogue_with_other_labels_than_the_checkpoint_is_one_line_exit_2(
    small_catalog: tuple[Path, pd.DataFrame], tbert_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli import app

    df = small_catalog[1].copy()
    df["genres"] = [["polka"] if i % 2 else ["ska"] for i in range(len(df))]  # classes the checkpoint never saw
    other = tmp_path / "other.parquet"
    save_catalog(df, other)
    result = CliRunner().invoke(app, ["index", "build", "--catalog", str(other), "--model", str(tbert_dir), "--out", str(tmp_path / "A")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "label set differs" in lines[0] and "polka" in lines[0]
    assert not (tmp_path / "A").exists()


def test_an_interrupt_swallowed_by_the_work_still_publishes_nothing(tmp_path: Path) -> None:
    from recsys.io import interrupts_remembered, on_interrupt

    def write(version: int) -> None:
        with atomic_path(tmp_path / "A", marker="manifest.json") as staged:
            staged.mkdir()
            (staged / "manifest.json").write_text(json.dumps({"format_version": version}))
            if version == 2:
                try:  # as numba's ctypes callback does with a Ctrl-C during UMAP's compilation
                    on_interrupt(signal.SIGINT, None)
                except KeyboardInterrupt:
                    pass

    write(1)
    before = signal.getsignal(signal.SIGINT)
    with interrupts_remembered():  # what `recsys` (cli.main) runs every command in
        assert signal.getsignal(signal.SIGINT) is on_interrupt
        with pytest.raises(KeyboardInterrupt):
            write(2)
    assert json.loads((tmp_path / "A" / "manifest.json").read_text()) == {"format_version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["A"]  # no temporary left
    # Afterwards the handler and a clear memory are back: later writes in this process publish.
    assert signal.getsignal(signal.SIGINT) is before
    write(3)
    assert json.loads((tmp_path / "A" / "manifest.json").read_text()) == {"format_version": 3}


def test_an_interrupt_swallowed_by_a_c_callback_prints_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes
    import ctypes.util
    import sys

    from recsys.io import interrupts_remembered, on_interrupt

    def fail(error: type[BaseException]) -> Callable[..., int]:
        def compare(a: int, b: int) -> int:
            if error is KeyboardInterrupt:
                on_interrupt(signal.SIGINT, None)
            raise error
        return compare

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    values = (ctypes.c_int * 3)(3, 1, 2)
    callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    reported: list = []  # what Python would print as "Exception ignored on calling ctypes callback function"
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    with interrupts_remembered():
        # A real C callback, as numba's during UMAP's compilation: Python cannot raise through it.
        libc.qsort(values, 3, ctypes.sizeof(ctypes.c_int), callback(fail(KeyboardInterrupt)))
        assert reported == []  # the command's one-line "interrupted" is all the user sees
        libc.qsort(values, 3, ctypes.sizeof(ctypes.c_int), callback(fail(ValueError)))
        assert reported and {type(r.exc_value) for r in reported} == {ValueError}  # anything else is still reported
    assert sys.unraisablehook == reported.append
