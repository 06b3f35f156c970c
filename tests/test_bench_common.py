"""The bench scripts' shared command line: --name (a plain file name under bench/results), counts,
the refusal of a plain-encoder build, and bad input as one error line with exit code 2."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from test_recommend import write_tiny_artifacts

from bench.common import add_name_option, bench_parser, count, load_studied_build, study_parser, tbert_artifacts
from recsys.errors import RecsysError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", exit_on_error=False)
    add_name_option(p, "query", "machine kind")
    return p


def test_default_and_plain_names_pass() -> None:
    assert parser().parse_args([]).name == "query"
    assert parser().parse_args(["--name", "query_rekeyed"]).name == "query_rekeyed"


@pytest.mark.parametrize("name", ["/tmp/x", "a/b", "..", "."])
def test_a_path_is_refused(name: str) -> None:
    with pytest.raises(argparse.ArgumentError, match="not a plain file name"):
        parser().parse_args(["--name", name])


def test_counts_are_whole_numbers_from_one() -> None:
    p = bench_parser("bench.query", "Query latency:\ncold and warm.\n\nDetails nobody needs in --help.")
    p.exit_on_error = False
    p.add_argument("--cold", type=count, default=10)
    assert p.parse_args(["--cold", "3"]).cold == 3
    for bad, message in (("0", "must be at least 1, got 0"), ("2.5", "'2.5' is not a whole number")):
        with pytest.raises(argparse.ArgumentError, match=message):
            p.parse_args(["--cold", bad])
    assert p.prog == "python -m bench.query" and p.description == "Query latency: cold and warm."


def test_a_study_of_the_tbert_build_refuses_a_plain_encoder_build(tmp_path: Path) -> None:
    plain = write_tiny_artifacts(tmp_path / "plain")
    with pytest.raises(RecsysError, match="built with a plain encoder .encoder., not a tBERT model"):
        tbert_artifacts(plain)
    assert tbert_artifacts(write_tiny_artifacts(tmp_path / "tbert", model_kind="tbert")).path == tmp_path / "tbert"
    with pytest.raises(RecsysError, match="not a tBERT model"):
        load_studied_build(plain)


def test_a_study_reads_the_build_as_the_served_ranker_sees_it(tmp_path: Path) -> None:
    args = study_parser("bench.era", "The era term.", "era").parse_args([str(tmp_path / "tbert")])
    assert (args.artifacts, args.name) == (tmp_path / "tbert", "era")
    build = load_studied_build(write_tiny_artifacts(args.artifacts, model_kind="tbert"))
    assert build.split.tolist() == ["test", "val", "val", "val", "train", "train", "test", "train"]
    assert build.labels.has("genre").tolist() == [True] * 7 + [False]  # Calm River has no genre
    assert (build.served.weight, build.served.audio_weight, build.served.era_weight) == (0.5, 0.0, 0.0)  # the untuned manifest's


def test_bad_input_is_one_error_line_and_exit_code_2(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.fusion", str(tmp_path / "missing"), "--name", "unused"],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing'}: artefact directory not found (build it with `recsys index build`)"]
