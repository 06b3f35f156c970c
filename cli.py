"""The ``recsys`` command: a thin typer front. Each command parses, calls one library function,
prints. Heavy imports (torch, training, index) happen inside the commands that need them, so
``recsys similar`` never loads torch.
"""

from __future__ import annotations

import functools
import sys
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

# --- train commands ---------------------------------------------------------------------------

# --- index commands ---------------------------------------------------------------------------

# --- query, tune and evaluate commands --------------------------------------------------------


if __name__ == "__main__":
    sys.exit(app())
