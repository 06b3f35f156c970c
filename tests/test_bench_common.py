"""The bench scripts' shared --name option: a plain file name under bench/results, nothing else."""

import argparse

import pytest

from bench.common import add_name_option


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
