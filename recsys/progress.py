"""The progress bar every long loop shows: description, bar, count, rate, elapsed and ETA."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress(*, transient: bool = False, disable: bool | None = None) -> Progress:
    """A rich Progress writing to stderr; extra fields show through ``{task.fields[...]}``.

    Use as ``with progress() as bar: task = bar.add_task("embedding", total=n, info="")``
    and ``bar.update(task, advance=m, info="12.3 songs/s")``. Disabled when stderr is not a
    terminal unless ``disable=False`` is passed, so logs and CI stay clean.
    """
    from rich.console import Console

    console = Console(stderr=True)
    if disable is None:
        disable = not sys.stderr.isatty()
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=transient,
        disable=disable,
    )
