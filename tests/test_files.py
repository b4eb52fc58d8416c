"""The private, durable file writer: modes, atomic replacement, create-once secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from fpcredit.files import is_inside, private_dir, private_output, read_or_create, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_are_private_and_folders_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    private_dir(folder)
    assert _mode(folder) == 0o700
    target = folder / "out.csv"
    old = os.umask(0)
    try:
        write_private(target, b"a,b\n")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"a,b\n"
    assert _mode(target) == 0o600
    assert [p.name for p in folder.iterdir()] == ["out.csv"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.parquet"
    write_private(target, b"old")
    with pytest.raises(RuntimeError), private_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.parquet"]


def test_a_writer_that_recreates_the_file_still_ends_private(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    old = os.umask(0)
    try:
        with private_output(target) as tmp:
            tmp.unlink()
            tmp.write_bytes(b"made by a library with its own open()")
    finally:
        os.umask(old)
    assert _mode(target) == 0o600


def test_a_secret_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "k.key"
    first = read_or_create(path, lambda: b"one")
    second = read_or_create(path, lambda: b"two")
    assert first == second == b"one"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700


def test_inside(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "link").symlink_to(tmp_path)
    assert is_inside(tmp_path / "home" / "a.csv", tmp_path / "home")
    assert not is_inside(tmp_path / "a.csv", tmp_path / "home")
    assert not is_inside(tmp_path / "home" / ".." / "a.csv", tmp_path / "home")
