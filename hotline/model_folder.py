"""Build a model folder once, whole, and safely with several processes starting together.

Every folder the project builds for itself (the rebuilt e5, the joined Whisper-base, a downloaded
Vosk model, a router trained from the responsibility table) is made the same way: under a file
lock beside it, in a temporary sibling that is renamed into place when finished, so a reader
never sees half a model and two workers never build the same one side by side. Standard
library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def build_folder(
    target: Path, is_complete: Callable[[Path], bool], write: Callable[[Path], None]
) -> Path:
    """``target`` once ``is_complete`` says so; otherwise ``write`` fills a temporary sibling
    (a completion marker, if any, last), which is made readable by every user, synced to disk
    and renamed over ``target``. Returns the resolved ``target``; ``write``'s errors propagate
    and leave nothing behind."""
    target = Path(target).expanduser().resolve()
    if is_complete(target):
        return target
    with folder_lock(target):
        if is_complete(target):  # another process finished while we waited
            return target
        _remove_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.build-", dir=target.parent))
        try:
            write(tmp)
            _publish(tmp)
            _swap_into_place(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


@contextlib.contextmanager
def folder_lock(target: Path) -> Iterator[None]:
    """Serialise the builders of one folder across processes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_leftovers(target: Path) -> None:
    """Under the lock, build and old folders beside the target belong to killed processes
    (an interrupted e5 build would otherwise leave 470 MB behind)."""
    prefixes = (f".{target.name}.build-", f".{target.name}.old-")
    for stale in target.parent.iterdir():
        if stale.name.startswith(prefixes) and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def _publish(folder: Path) -> None:
    """mkdtemp (and some writers) create owner-only modes, and the service may run as another
    user than the builder: open read access up, and sync every file before the rename."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
            continue
        path.chmod(0o644)
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename a finished build over ``target``, moving a stale folder aside first."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, old)
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
