"""Atomic writes: a file or directory appears complete or not at all."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import tokenize
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from recsys.errors import RecsysError


_OWNER = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _staging_pattern(target_name: str | None = None) -> re.Pattern[str]:
    """The names :func:`atomic_path` gives its temporaries: ".{target}.{8 characters}.tmp", of
    ``target_name`` or of any target."""
    # mkdtemp's suffix is 8 characters without dots, so another target's temporaries (".a.v2.*"
    # beside ".a.*") never match.
    name = ".+" if target_name is None else re.escape(target_name)
    return re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.tmp")


def _clear_stale(target: Path) -> None:
    """Remove temporaries of ``target`` left by a killed process (SIGKILL skips ``finally``).

    One whose owner is unknown or still running is left alone. If the kill fell between moving
    the old directory aside and moving the new one in, the old one is put back first.
    """
    own = _staging_pattern(target.name)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if not own.fullmatch(stale.name):
            continue
        try:
            pid = int((stale / _OWNER).read_text())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            continue
        old = stale / (target.name + ".old")
        if old.exists() and not target.exists():
            os.replace(old, target)
        shutil.rmtree(stale, ignore_errors=True)


def _holds_own_marker(directory: Path, marker: str, marker_key: str) -> bool:
    try:
        data = json.loads((directory / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and marker_key in data


def is_staging(name: str) -> bool:
    """Whether a relative path lies in an :func:`atomic_path` temporary (a writer still running,
    or one that was killed and is cleared by the next write of its target), at any depth:
    ``plots/.tuning.png.ab12cd34.tmp/owner.pid`` is one."""
    pattern = _staging_pattern()
    return any(pattern.fullmatch(part) for part in name.split("/"))


def check_replaceable(target: str | os.PathLike[str], marker: str | None = None, marker_key: str = "format_version") -> None:
    """Raise RecsysError unless writing ``target`` can only replace an earlier output of its kind.

    ``marker=None``: ``target`` is a file, so an existing directory there is refused. Otherwise
    ``target`` is a directory whose outputs always hold the JSON file ``marker``
    (``manifest.json``, ``config.json``, ...) with the key ``marker_key``: an existing file, or a
    non-empty directory without such a file, is refused, so a mistyped ``--out`` never deletes
    a folder of other work (a web project's own manifest.json included).
    """
    target = Path(target)
    existing = next((parent for parent in target.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise RecsysError(f"{target}: {existing} is a file, so nothing can be written under it")
    if existing is not None:
        check_writable(existing, target)
    if marker is None:
        if target.is_dir() and not target.is_symlink():
            raise RecsysError(f"{target}: is a directory; give a file path to write to")
        return
    if target.is_symlink():
        # The new directory would be renamed over the link, not into the folder it names.
        raise RecsysError(f"{target}: is a symbolic link; give the directory itself ({target.resolve()})")
    if target.exists() and not target.is_dir():
        raise RecsysError(f"{target}: is a file; give a directory path to write to")
    if target.is_dir() and any(target.iterdir()) and not _holds_own_marker(target, marker, marker_key):
        raise RecsysError(f"{target}: exists, is not empty and holds no {marker} of recsys's, so it is not an earlier output of this command; refusing to replace it")


def check_writable(directory: str | os.PathLike[str], target: str | os.PathLike[str] | None = None) -> None:
    """Raise RecsysError (naming ``target``, or ``directory``) unless a file can be created in
    ``directory``: long commands call it before their work, not after it. A real file is
    created and removed, since permission bits say nothing for root or for /proc."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise RecsysError(f"{target if target is not None else directory}: cannot write in {directory} ({exc.strerror or exc})") from None


def within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links resolved)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


# The marker file (and key) of each recsys output directory, as their writers pass them to
# atomic_path: such a directory is replaced, or verified file by file, as a whole.
OUTPUT_MARKERS = (("manifest.json", "format_version", "artefact directory"), ("config.json", "format_version", "model"),
                  ("compare.json", "variants", "comparison report"), ("evaluation.json", "results", "evaluation report"))


def check_outside(out: str | os.PathLike[str], *, option: str = "--out", **inputs: str | os.PathLike[str] | None) -> None:
    """Raise RecsysError when an input (``name=path``) is ``out`` (given as ``option``) or lies
    inside it (``out`` is replaced as a whole, so the input would be deleted with it), or when
    ``out`` lies inside another recsys output (whose next rewrite would delete it, or whose
    verification it breaks)."""
    for name, path in inputs.items():
        if path is not None and within(path, out):
            raise RecsysError(f"{path}: the {name} is {option} {out} or lies inside it, and {option} is replaced as a whole; write the output elsewhere")
    for parent in Path(out).resolve().parents:
        what = next((what for marker, key, what in OUTPUT_MARKERS if _holds_own_marker(parent, marker, key)), None)
        if what is not None:
            raise RecsysError(f"{out}: lies inside {parent}, a recsys {what} that is replaced or verified as a whole; write the output elsewhere")


@contextmanager
def atomic_path(target: str | os.PathLike[str], marker: str | None = None, marker_key: str = "format_version") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only on success.

    Works for files and directories: the caller writes whatever it likes at the yielded path.
    A directory writer names the ``marker`` JSON file (with its ``marker_key``) its outputs
    always hold, and only an empty directory or one holding that file is replaced
    (:func:`check_replaceable`). On an exception
    the temporary is removed and ``target`` is left as it was; temporaries of killed earlier
    writers of ``target`` are removed on the next write.
    """
    target = Path(target)
    check_replaceable(target, marker, marker_key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _clear_stale(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as exc:  # not the temporary's name: the user never typed it
        raise RecsysError(f"{target}: cannot write there ({exc.strerror or exc})") from None
    (tmp / _OWNER).write_text(str(os.getpid()))
    staged = tmp / target.name
    try:
        yield staged
        if _interrupt["seen"]:
            raise KeyboardInterrupt  # a Ctrl-C that the work swallowed: publish nothing
        if not staged.exists():
            raise FileNotFoundError(f"nothing was written for {target}")
        if target.is_dir() and not target.is_symlink():
            # A directory cannot be replaced in one rename: move the old one aside first, so a
            # crash between the two renames still leaves one complete copy on disk.
            old = tmp / (target.name + ".old")
            os.replace(target, old)
            try:
                os.replace(staged, target)
            except BaseException:
                os.replace(old, target)
                raise
        else:
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Set while a CLI command runs by its SIGINT handler. A Ctrl-C that lands in a C callback (numba
# compiling UMAP's code during a build) is swallowed there and the work goes on, so atomic_path
# checks this before it publishes anything. A plain value: a signal handler must not take a lock.
_interrupt = {"seen": False}


def on_interrupt(signum: int, frame: Any) -> None:
    """SIGINT handler: remember the interrupt, then raise it as Python's default handler does."""
    _interrupt["seen"] = True
    raise KeyboardInterrupt


@contextmanager
def interrupts_remembered() -> Iterator[None]:
    """Within the block, a Ctrl-C is remembered even where the work swallows it (see
    :func:`on_interrupt`); the previous handler and a clear memory come back after it."""
    _interrupt["seen"] = False
    previous = signal.signal(signal.SIGINT, on_interrupt)
    previous_hook = sys.unraisablehook

    def quiet_swallowed_interrupt(info: Any) -> None:
        # The C callback prints the KeyboardInterrupt it swallows as a traceback ("Exception
        # ignored on calling ctypes callback function"); the command's one-line "interrupted" follows.
        if not (_interrupt["seen"] and isinstance(info.exc_value, KeyboardInterrupt)):
            previous_hook(info)

    sys.unraisablehook = quiet_swallowed_interrupt
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
        _interrupt["seen"] = False


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Within the block a Ctrl-C (SIGINT) waits, and arrives when the block ends: for a second or
    so in which several files are published together. The block's SIGINT handler only notes the
    signal, whichever thread the system gave it to (blocking it in this thread would not hold one
    given to a torch or BLAS thread); the handler before it then gets it. Outside the main
    thread, where Python allows no handler, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, received[0])
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)


def json_text(data: Any) -> str:
    """``data`` as the indented, key-sorted JSON every recsys file holds."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(data), encoding="utf-8")


def load_npy(path: str | os.PathLike[str]) -> Any:
    """A memory-mapped .npy array; RecsysError naming the file when it cannot be read."""
    import numpy as np

    try:
        return np.load(path, mmap_mode="r")
    except OSError as exc:
        raise RecsysError(f"{path}: unreadable ({exc})") from None
    # numpy parses the header as a Python literal: damage there surfaces as a tokenizer or
    # syntax error, and its ValueError suggests allow_pickle, which would be wrong advice here.
    except (ValueError, SyntaxError, tokenize.TokenError):
        raise RecsysError(f"{path}: not a valid .npy file (damaged header); rebuild the artefacts") from None


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, which needs no display; imported only where a
    plot is drawn, so that no query or import pays for matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` as a PNG, atomically, and close it, also when writing fails."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        pyplot().close(fig)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(root: str | os.PathLike[str], files: list[Path]) -> str:
    """Hex SHA-256 over ``files`` under ``root``: their names relative to ``root`` and their
    contents, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(Path(f) for f in files):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()
