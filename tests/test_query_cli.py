"""`recsys similar`, `tune` and `evaluate` through the CLI: exit codes, JSON, and no torch on
the query path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_recommend import TINY, predictions_for_the_untagged_song, write_tiny_artifacts
from typer.testing import CliRunner

from cli import app
from recsys.catalog import conform

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture()
def artifacts(tmp_path: Path) -> Path:
    return write_tiny_artifacts(tmp_path / "artifacts")


def test_similar_json_and_exit_codes(artifacts: Path) -> None:
    ok = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "3", "--json", "--explain"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    assert data["query"]["title"] == "Grey Window"
    assert [r["rank"] for r in data["results"]] == [1, 2, 3]
    assert all(r["title"] != "Grey Window" for r in data["results"])
    assert {"score", "cosine", "bm25", "mood", "genres", "cluster", "why"} <= set(data["results"][0])

    ambiguous = runner.invoke(app, ["similar", "Rain Song", "--artifacts", str(artifacts)])
    assert ambiguous.exit_code == 2
    assert "Rain Song — Ann Blue (1971); Rain Song — Eve Green (1988)" in ambiguous.output
    assert runner.invoke(app, ["similar", "Rain Song", "--artist", "Eve Green", "--artifacts", str(artifacts)]).exit_code == 0
    unknown = runner.invoke(app, ["similar", "Zzyzx Road", "--artifacts", str(artifacts)])
    assert unknown.exit_code == 2 and "error: no song titled" in unknown.output
    missing = runner.invoke(app, ["similar", "Tears", "--artifacts", str(artifacts.parent / "nope")])
    assert missing.exit_code == 2 and "artefact directory not found" in missing.output
    bad = runner.invoke(app, ["similar", "Tears", "--artifacts", str(artifacts), "--fusion", "max"])
    assert bad.exit_code == 2 and "fusion" in bad.output


def test_similar_takes_a_song_id_that_json_printed(artifacts: Path) -> None:
    first = json.loads(runner.invoke(app, ["similar", "Rain Song", "--artist", "Eve Green", "--artifacts", str(artifacts), "--json"]).stdout)
    by_id = runner.invoke(app, ["similar", "--id", first["query"]["song_id"], "--artifacts", str(artifacts), "--json"])
    assert by_id.exit_code == 0, by_id.output
    assert json.loads(by_id.stdout) == first
    for args, message in [
        (["--id", "ffffffffffffffff"], "error: no song with id 'ffffffffffffffff' among the 8 indexed songs"),
        (["Tears", "--id", first["query"]["song_id"]], "error: --id names the song by itself"),
        (["--artist", "Eve Green", "--id", first["query"]["song_id"]], "error: --id names the song by itself"),
        ([], 'error: give a song title, e.g. recsys similar "Yesterday", or --id'),
    ]:
        out = runner.invoke(app, ["similar", *args, "--artifacts", str(artifacts)])
        assert out.exit_code == 2 and out.output.startswith(message), (args, out.output)


def test_similar_explain_prints_a_block_per_result(artifacts: Path) -> None:
    out = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--explain"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    data = json.loads(runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--json", "--explain"]).stdout)
    for r in data["results"]:
        why = r["why"]
        assert f"{r['rank']}. {r['title']} — {r['artist']}" in out.output
        top_mood, p = next(iter(why["mood_probs"].items()))
        assert f"predicted mood: {top_mood} {p:.2f}" in out.output
        if why["matched_terms"]:
            assert "words: " + ", ".join(why["matched_terms"]) in out.output
        first = why["audio_differences"][0]
        assert f"{first['feature']} ({first['query']} vs {first['song']}, {first['sd']} sd)" in out.output
        assert f"years apart: {why['year_gap']}" in out.output
    # The rain song shares the query's cluster 0 and its keywords.
    assert "same cluster 0: rain, grey" in out.output
    # The caption says how the score was made (the fixture is untuned: w = 0.5, a = 0).
    assert "score = 0.50 × cosine + 0.50 × BM25 / best BM25" in out.output and "audio cosine" not in out.output
    tuned = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--audio-weight", "0.25"], env={"COLUMNS": "200"})
    assert "score = 0.50 × cosine + 0.50 × BM25 / best BM25 + 0.25 × audio cosine" in " ".join(tuned.output.split())
    era = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--era-weight", "0.4"], env={"COLUMNS": "200"})
    assert "score = 0.50 × cosine + 0.50 × BM25 / best BM25 + 0.40 × era agreement" in " ".join(era.output.split())
    bad = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "--era-weight", "2"])
    assert bad.exit_code == 2 and bad.output == "error: era weight must be a number in [0, 1], got 2.0\n"
    rrf = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--fusion", "rrf"], env={"COLUMNS": "200"})
    assert "score = 1 / (60 + rank by cosine) + 1 / (60 + rank by BM25)" in " ".join(rrf.output.split())  # wrapped to the table


def test_similar_in_a_narrow_terminal_lists_one_song_a_line(artifacts: Path) -> None:
    data = json.loads(runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2", "--json"]).stdout)
    out = runner.invoke(app, ["similar", "grey window", "--artifacts", str(artifacts), "-k", "2"], env={"COLUMNS": "40"})
    assert out.exit_code == 0, out.output
    for r in data["results"]:
        year = f" ({r['year']})" if r["year"] else ""
        assert f"{r['rank']}. {r['title']} — {r['artist']}{year} {r['score']:.3f}" in out.output.replace("\n", " ")


def test_similar_filters_and_env_default(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(artifacts))
    out = runner.invoke(app, ["similar", "Tears", "--json", "--mood", "sad", "--fusion", "rrf"])
    assert out.exit_code == 0, out.output
    assert {r["mood"] for r in json.loads(out.stdout)["results"]} == {"sad"}
    table = runner.invoke(app, ["similar", "Tears", "--year-from", "2000"])
    assert table.exit_code == 0 and "Party" in table.output and "Grey Window" not in table.output


def test_untagged_songs_show_and_filter_by_the_model_s_prediction(tmp_path: Path) -> None:
    artifacts = write_tiny_artifacts(tmp_path / "a", edit=predictions_for_the_untagged_song, params={"genre_labels": ["folk", "pop", "rock"]})
    args = ["similar", "Tears", "--artifacts", str(artifacts), "--mood", "relaxed"]
    out = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    calm = next(line for line in out.output.splitlines() if "Calm River" in line)
    assert "relaxed*" in calm and "rock*, folk*" in calm
    assert "* predicted by the model: the song has no such tag" in out.output
    tagged = runner.invoke(app, [*args, "--tagged-only"], env={"COLUMNS": "200"})
    assert tagged.exit_code == 0 and "Calm River" not in tagged.output and "Rain Song" in tagged.output
    assert "predicted by the model" not in tagged.output  # no starred cell, no note
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert {(r["title"], r["mood"], r["predicted_mood"]) for r in data["results"]} == {("Calm River", None, "relaxed"), ("Rain Song", "relaxed", "happy")}


def test_index_verify_takes_the_directory_as_the_other_commands_do(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for args in ([str(artifacts)], ["--artifacts", str(artifacts)]):
        out = runner.invoke(app, ["index", "verify", *args])
        assert out.exit_code == 0 and out.output.startswith(f"{artifacts}: ok ("), out.output
    monkeypatch.setenv("RECSYS_ARTIFACTS", str(artifacts))
    assert runner.invoke(app, ["index", "verify"]).exit_code == 0
    (artifacts / "bm25" / "extra.txt").write_text("not from the build")
    damaged = runner.invoke(app, ["index", "verify"])
    assert damaged.exit_code == 2 and damaged.output.startswith("error: ") and "extra.txt" in damaged.output


def test_tune_and_evaluate_commands(artifacts: Path, tmp_path: Path) -> None:
    tuned = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "-k", "2"])
    assert tuned.exit_code == 0, tuned.output
    assert "w (a = e = 0): golden-section" in tuned.output and "a (w = " in tuned.output and "e (w = " in tuned.output and "RRF" in tuned.output
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["tuning"]["k"] == 2 and manifest["tuning"]["tag"] == "balanced" and manifest["tuning"]["pool"] == "labelled"
    assert f"audio_weight = {manifest['audio_weight']:.4f}, era_weight = {manifest['era_weight']:.4f}" in tuned.output
    no_audio = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "-k", "2", "--no-audio", "--no-era", "--pool", "all"])
    assert no_audio.exit_code == 0 and "a (w = " in no_audio.output and "not tuned (--no-audio); a = 0" in no_audio.output
    assert "not tuned (--no-era); e = 0" in no_audio.output and "pool all" in no_audio.output
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["audio_weight"] == manifest["era_weight"] == 0.0 and manifest["tuning"]["pool"] == "all"
    bad_pool = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "--pool", "tagged"])
    assert bad_pool.exit_code == 2 and bad_pool.output == "error: unknown pool 'tagged': use labelled, all\n"
    evaluated = runner.invoke(app, ["evaluate", "--artifacts", str(artifacts), "--out", str(tmp_path / "ev"), "--bootstrap", "50"])
    assert evaluated.exit_code == 0, evaluated.output
    assert (tmp_path / "ev" / "evaluation.md").is_file() and "warning: the weights" not in evaluated.output
    assert "warning: under 30 queries (mood 2, genre 2): the means and intervals are rough" in evaluated.output
    on_test = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "-k", "2", "--split", "test"])
    assert on_test.exit_code == 0, on_test.output
    optimistic = runner.invoke(app, ["evaluate", "--artifacts", str(artifacts), "--out", str(tmp_path / "ev"), "--bootstrap", "50"])
    assert optimistic.exit_code == 0 and "warning: the weights were tuned on the test songs evaluated here" in optimistic.output
    assert "tuned on the test songs" in (tmp_path / "ev" / "evaluation.md").read_text()
    bad_split = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "--split", "foo"])
    assert bad_split.exit_code == 2 and "unknown split 'foo': choose train, val, test" in bad_split.output
    bad_tag = runner.invoke(app, ["tune", "--artifacts", str(artifacts), "--tag", "colour"])
    assert bad_tag.exit_code == 2 and "unknown tag 'colour'" in bad_tag.output
    self_baseline = runner.invoke(app, ["evaluate", "--artifacts", str(artifacts), "--out", str(tmp_path / "ev2"), "--baseline", str(artifacts)])
    assert self_baseline.exit_code == 2 and "drop --baseline" in self_baseline.output
    assert len(self_baseline.output.strip().splitlines()) == 1


def test_similar_imports_neither_torch_nor_pandas_nor_scipy(artifacts: Path) -> None:
    # A cold `recsys similar` must start fast: these imports alone would cost most of a second.
    harness = (
        "import sys\n"
        "from cli import main\n"
        f"sys.argv = ['recsys', 'similar', 'Tears', '--artifacts', {str(artifacts)!r}, '--json']\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'gensim', 'umap', 'sklearn', 'pandas', 'scipy') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", harness], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["similar", "Tears", "-k", "abc"], "error: Invalid value for '-k' / '--k': 'abc' is not a valid int. (see recsys similar --help)"),
    (["similar"], 'error: give a song title, e.g. recsys similar "Yesterday", or --id'),
    (["similar", "Tears", "--bogus"], "error: No such option: --bogus (see recsys similar --help)"),
    (["catalog", "demo", "--out", "x.parquet", "--seed", "-1"],
     "error: Invalid value for '--seed': -1 is not in the range 0<=x<=2147483647. (see recsys catalog demo --help)"),
    (["train", "--catalog", "x", "--out", "y", "--topics-k", "0"], "error: Invalid value for '--topics-k': 0 is not in the range x>=1. (see recsys train --help)"),
])
def test_usage_errors_are_one_line_exit_2(args: list[str], message: str) -> None:
    # Through the installed entry point's function, as a user's shell runs it.
    done = subprocess.run([sys.executable, "-c", f"import sys; from cli import main; sys.argv = ['recsys', *{args!r}]; main()"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [message]


def test_a_ctrl_c_after_the_command_returned_is_one_line_exit_130() -> None:
    # A Ctrl-C in the moment between a finished command (a training's checkpoint saved) and exit.
    late = "import sys, cli\nrun = cli.app\ndef app(**kw):\n    run(**kw)\n    raise KeyboardInterrupt\ncli.app = app\n"
    done = subprocess.run([sys.executable, "-c", late + "sys.argv = ['recsys', 'catalog', '--help']; cli.main()"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "Usage" in done.stdout
    assert done.stderr.strip().splitlines() == ["error: interrupted; nothing half-written was kept"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_output_that_cannot_be_written_is_one_line(artifacts: Path) -> None:
    args = ["similar", "grey window", "--artifacts", str(artifacts), "--explain"]
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", f"import sys; from cli import main; sys.argv = ['recsys', *{args!r}]; main()"],
                              cwd=REPO, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 1 and done.stderr.strip().splitlines() == ["error: No space left on device"]


@pytest.mark.slow
def test_search_with_the_real_encoder(tmp_path: Path, minilm_dir: Path) -> None:
    from index.embed import embed_catalog, load_embedder

    frame = conform(pd.DataFrame({"song_id": [str(i) for i in range(len(TINY))], "title": [t[0] for t in TINY],
                                  "artist": [t[1] for t in TINY], "lyrics": [t[6] for t in TINY]}))
    vectors = embed_catalog(load_embedder(minilm_dir), frame, progress=False).embedding
    built = write_tiny_artifacts(tmp_path / "a", embeddings=vectors, model=str(minilm_dir))
    out = runner.invoke(app, ["search", "grey rain on the window", "--artifacts", str(built), "-k", "3", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["results"][0]["title"] in {"Grey Window", "Rain Song"}
    # A bad request fails before the model is looked for: this build's model is not on the machine.
    gone = write_tiny_artifacts(tmp_path / "gone", model=str(tmp_path / "no-such-model"))
    for args, message in ((["-k", "0"], "k must be a whole number between 1 and 1000, got 0"), (["-k", "1001"], "k must be a whole number between 1 and 1000, got 1001"), (["--mood", "bogus"], "unknown mood"), ([], "is not there; free-text search needs it (moved? give its folder with --model)")):
        result = runner.invoke(app, ["search", "rain", "--artifacts", str(gone), *args])
        assert result.exit_code == 2 and message in result.output
    for wordless in ("  ", "!!! ???"):  # punctuation alone would embed to some vector and match arbitrary songs
        result = runner.invoke(app, ["search", wordless, "--artifacts", str(gone)])
        assert result.exit_code == 2 and "no words in the search text" in result.output
    # A model moved after the build: --model names its new folder, and its files are still checked.
    import shutil

    moved_from, moved_to = tmp_path / "model", tmp_path / "model_moved"
    shutil.copytree(minilm_dir, moved_from)
    moved = write_tiny_artifacts(tmp_path / "m", embeddings=vectors, model=str(moved_from))
    moved_from.rename(moved_to)
    assert runner.invoke(app, ["search", "rain", "--artifacts", str(moved)]).exit_code == 2
    found = runner.invoke(app, ["search", "grey rain on the window", "--artifacts", str(moved), "-k", "3", "--json", "--model", str(moved_to)])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["results"] == json.loads(out.stdout)["results"]
    (moved_to / "config.json").write_text((moved_to / "config.json").read_text() + " ")
    changed = runner.invoke(app, ["search", "rain", "--artifacts", str(moved), "--model", str(moved_to)])
    assert changed.exit_code == 2 and "differ from those" in changed.output
    # Titles and queries with brackets are shown as typed, not read as rich markup.
    brackets = runner.invoke(app, ["search", "rain [/oops] [bold]", "--artifacts", str(built), "-k", "2"], env={"COLUMNS": "200"})
    assert brackets.exit_code == 0 and "Songs matching 'rain [/oops] [bold]'" in brackets.output
    # A text has no audio features: the caption leaves the audio term out.
    with_audio_weight = runner.invoke(app, ["search", "rain", "--artifacts", str(built), "-k", "2", "--weight", "0.7"], env={"COLUMNS": "200"})
    assert "score = 0.70 × cosine + 0.30 × BM25 / best BM25" in with_audio_weight.output and "audio cosine" not in with_audio_weight.output
    # Artefacts whose vectors do not come from the encoder: a one-line error, not a crash.
    mismatch = runner.invoke(app, ["search", "rain", "--artifacts", str(write_tiny_artifacts(tmp_path / "b", model=str(minilm_dir)))])
    assert mismatch.exit_code == 2 and "384-d" in mismatch.output
