"""The one error type users see: the CLI prints its message on one line and exits with 2."""


class RecsysError(Exception):
    """A problem with the user's input or artefacts, explained in one line.

    Raise it with a message that names the file, row or column at fault; never wrap a
    traceback in it.
    """
