"""Imports replace a file's entries, keep a broken file's old ones, and bump the version."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline import db
from knowledge import store
from knowledge.loaders import load_path


def write(path: Path, *ids: str) -> Path:
    lines = ["entries:"]
    lines += [
        f"  - {{id: {i}, question: 问题{i}, answer: 答案{i}, source: {{title: t}}}}" for i in ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    db.upgrade(url)
    return url


def test_reimport_adds_updates_removes_and_bumps_version(url: str, tmp_path: Path) -> None:
    kb = write(tmp_path / "a.yml", "a-1", "a-2")
    first = store.import_results(url, load_path(kb))
    assert (first.added, store.version(url)) == (2, 1)
    again = store.import_results(url, load_path(kb))
    assert (again.unchanged, again.changed, store.version(url)) == (2, False, 1)
    write(kb, "a-2", "a-3")
    third = store.import_results(url, load_path(kb))
    assert (third.added, third.removed, store.version(url)) == (1, 1, 2)
    assert [e.id for e in store.all_entries(url)] == ["a-2", "a-3"]


def test_a_broken_file_keeps_its_previous_entries(url: str, tmp_path: Path) -> None:
    kb = write(tmp_path / "a.yml", "a-1")
    store.import_results(url, load_path(kb))
    kb.write_text("entries: [unclosed", encoding="utf-8")
    report = store.import_results(url, load_path(kb))
    assert report.problems and not report.changed
    assert [e.id for e in store.all_entries(url)] == ["a-1"]


def test_an_id_owned_by_another_file_is_a_conflict(url: str, tmp_path: Path) -> None:
    store.import_results(url, load_path(write(tmp_path / "a.yml", "x-1")))
    report = store.import_results(url, load_path(write(tmp_path / "b.yml", "x-1", "b-1")))
    assert report.added == 1 and "id x-1 is in" in report.conflicts[0]
