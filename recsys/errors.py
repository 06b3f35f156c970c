"""The one error type users see: the CLI prints its message on one line and exits with 2."""


class RecsysError(Exception):
    """A problem with the user's input or artefacts, explained in one line.

    Raise it with a message that names the file, row or column at fault; never wrap a
    traceback in it.
    """


def check_counts(*options: tuple[str, int | None]) -> None:
    """RecsysError for the first ``(name, value)`` whose value is below 1 (None means unset):
    the one wording every count option (--epochs, --threads, ...) is refused with."""
    for name, value in options:
        if value is not None and value < 1:
            raise RecsysError(f"{name} must be at least 1, got {value}")
