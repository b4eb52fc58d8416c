"""The one way fpcredit writes secrets and result files: private (0600 in 0700), durable, whole.

A file is written under a temporary name in its own folder (created 0600 from the start, so it
is never readable by others, even briefly), flushed and fsynced, renamed into place, and the
folder fsynced, so that a crash leaves the old file or the new one and never a mixture. Secrets
that must never be replaced (a signing key made on first use) are linked into place instead:
two processes starting together then agree on one key.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "is_inside",
    "open_append",
    "private_dir",
    "private_output",
    "read_or_create",
    "tighten",
    "write_private",
]

log = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600


def tighten(path: Path, mode: int) -> None:
    """Take group and other permissions away from `path` if it has any (owner's bits stay)."""
    try:
        current = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if current & ~mode & 0o077:
        try:
            path.chmod(current & mode)
        except OSError:  # not the owner: a read-only copy, say; reading it is still allowed
            log.warning("%s is readable by others; chmod %o it", path, mode)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) readable by its owner only, or tighten it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tighten(path, DIR_MODE)
    return path


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _aside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


@contextmanager
def private_output(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, created 0600, for a writer that wants a file name
    (Parquet, CSV); when the block ends without an error it is fsynced and renamed to `path`.
    On an error the temporary file is removed and `path` is left as it was."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _aside(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    try:
        yield tmp
        tmp.chmod(FILE_MODE)  # a writer that recreated the file may have used the umask
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, atomically and durably, readable by its owner only."""
    with private_output(path) as tmp, tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of a secret file, created by `make()` on first use (0600, in a 0700 folder).

    Written aside and linked into place: `link` never overwrites, so a concurrent first use
    reads either nothing or the whole secret, and everybody ends up with the same one."""
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    private_dir(path.parent)
    tmp = _aside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink()
    _fsync_dir(path.parent)
    return path.read_bytes()


def open_append(path: Path) -> int:
    """A descriptor of `path` open for reading and appending, the file created 0600 in a 0700
    folder (the folder fsynced when the file is new): for an append-only log whose writer adds
    whole records and fsyncs each (the trail's checkpoint file)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        _fsync_dir(path.parent)
    tighten(path, FILE_MODE)
    return fd


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies inside `folder` (both resolved; a symlink out counts as outside)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
