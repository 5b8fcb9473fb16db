"""hotline.model_folder.build_folder: a model folder appears whole or not at all, once."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hotline.model_folder import build_folder


def complete(folder: Path) -> bool:
    return (folder / "done").is_file()


def write(folder: Path) -> None:
    (folder / "weights.bin").write_bytes(b"\0" * 10)
    (folder / "done").write_text("marker last")


def test_builds_once_and_reuses(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"
    assert build_folder(target, complete, write) == target.resolve()
    assert sorted(p.name for p in target.iterdir()) == ["done", "weights.bin"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o755  # readable by the service's user
    assert stat.S_IMODE((target / "weights.bin").stat().st_mode) == 0o644

    def fail(folder: Path) -> None:
        pytest.fail("rebuilt a complete folder")

    assert build_folder(target, complete, fail) == target.resolve()


def test_a_failed_build_leaves_nothing_and_keeps_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "old.bin").write_text("incomplete, but what readers have now")

    def broken(folder: Path) -> None:
        (folder / "half.bin").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_folder(target, complete, broken)
    assert [p.name for p in target.iterdir()] == ["old.bin"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.build-")]


def test_an_incomplete_folder_and_leftovers_of_killed_builds_are_replaced(tmp_path: Path) -> None:
    target = tmp_path / "m"
    target.mkdir()
    (target / "stale.bin").write_text("from an older version")
    (tmp_path / ".m.build-123").mkdir()  # a build whose process was killed
    build_folder(target, complete, write)
    assert sorted(p.name for p in target.iterdir()) == ["done", "weights.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.lock", "m"]
