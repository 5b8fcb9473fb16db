"""Migration 0013 on the real PostgreSQL: the unique index of (conversation, message id) is
built CONCURRENTLY, so turns are still stored while it builds, and a build cut short is
finished by the next upgrade. The index's build is held in its last phase deterministically:
a concurrent build waits for every transaction with an older snapshot (here a reader's, as a
long report's), and the test watches PostgreSQL say the build is waiting."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from hotline import db
from hotline.conversations import turns_of

INDEX = "ux_conversation_turns_message"
BUILD = f"%INDEX CONCURRENTLY%{INDEX}%"


def index_state(url: str) -> tuple[bool, bool, list[str]] | None:
    """(valid, unique, columns) of the index; None when there is none."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT i.indisvalid, i.indisunique, array(SELECT a.attname FROM unnest(i.indkey)"
            " WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND"
            " a.attnum = k.n ORDER BY k.o) FROM pg_index i JOIN pg_class c ON c.oid ="
            " i.indexrelid WHERE c.relname = %s",
            (INDEX,),
        ).fetchone()
    return None if row is None else (row[0], row[1], list(row[2]))


def store_turn(conn: psycopg.Connection, conversation: str, message_id: str | None) -> None:
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO conversation_turns (conversation_id, channel, sender, user_text,"
        " bot_replies, state, metadata, received_at, replied_at, latency_ms"
        + (", message_id" if message_id else "")
        + ") VALUES (%s, 'web', %s, '你好', '[]', 'bot', '{}', %s, %s, 0"
        + (", %s" if message_id else "")
        + ")",
        (conversation, conversation.split(":")[1], now, now, *([message_id] if message_id else [])),
    )


@dataclass
class Upgrade:
    build_pid: int = 0
    error: BaseException | None = None
    thread: threading.Thread = field(default_factory=threading.Thread)


@contextmanager
def index_building(url: str) -> Iterator[Upgrade]:
    """An upgrade from 0012 to head, yielded while the index build waits for a reader's
    snapshot; the reader ends (and the upgrade finishes or fails) on exit."""
    db.upgrade(url, "0012")
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(3):  # turns logged before the upgrade
            store_turn(conn, f"web:before-{n}", None)
    upgrade = Upgrade()
    reader = psycopg.connect(url)
    reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    reader.execute("SELECT 1")  # its snapshot is now older than the build's

    def run() -> None:
        try:
            db.upgrade(url)
        except BaseException as exc:  # reported by the test
            upgrade.error = exc

    upgrade.thread = threading.Thread(target=run, daemon=True)
    upgrade.thread.start()
    try:
        with psycopg.connect(url, autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while not upgrade.build_pid:
                running = upgrade.thread.is_alive()  # read first: no finish is missed
                row = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND"
                    " query ILIKE %s AND wait_event_type = 'Lock'",
                    (BUILD,),
                ).fetchone()
                if row:
                    upgrade.build_pid = int(row[0])
                    break
                assert running, f"the upgrade built no index concurrently ({upgrade.error!r})"
                assert time.monotonic() < deadline, "the upgrade never reached the build"
                time.sleep(0.05)  # polling for a state, not asserting on time
        yield upgrade
    finally:
        reader.close()
        upgrade.thread.join(120)
        assert not upgrade.thread.is_alive(), "the upgrade did not finish"


def test_the_index_is_unique_and_valid(postgres_url: str) -> None:
    db.upgrade(postgres_url)
    assert index_state(postgres_url) == (True, True, ["conversation_id", "message_id"])


def test_turns_are_stored_while_the_index_is_built(postgres_url: str) -> None:
    with index_building(postgres_url) as upgrade, psycopg.connect(postgres_url) as replica:
        assert index_state(postgres_url) == (False, True, ["conversation_id", "message_id"])
        # The lock an INSERT takes, refused at once (NOWAIT) if the build held the table
        replica.execute("LOCK TABLE conversation_turns IN ROW EXCLUSIVE MODE NOWAIT")
        store_turn(replica, "web:during", "m-1")
        replica.commit()
    assert upgrade.error is None, upgrade.error
    assert index_state(postgres_url) == (True, True, ["conversation_id", "message_id"])
    assert db.current_revision(postgres_url) == db.head_revision()
    assert [t.message_id for t in turns_of(postgres_url, "web:during")] == ["m-1"]


def test_a_build_cut_short_is_finished_by_the_next_upgrade(postgres_url: str) -> None:
    """An operator's Ctrl-C or a statement timeout during the build leaves an invalid index:
    the next start's upgrade builds it again rather than failing or keeping it invalid."""
    with index_building(postgres_url) as upgrade, psycopg.connect(postgres_url) as admin:
        admin.execute("SELECT pg_cancel_backend(%s)", (upgrade.build_pid,))
    assert isinstance(upgrade.error, Exception) and "cancel" in str(upgrade.error)
    assert index_state(postgres_url) == (False, True, ["conversation_id", "message_id"])
    assert db.current_revision(postgres_url) == "0012"
    db.upgrade(postgres_url)
    assert index_state(postgres_url) == (True, True, ["conversation_id", "message_id"])
    assert db.current_revision(postgres_url) == db.head_revision()
    with psycopg.connect(postgres_url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        for _ in range(2):
            store_turn(conn, "web:after", "m-2")


def test_replicas_starting_together_migrate_one_after_the_other(
    postgres_url: str, tmp_path: Path
) -> None:
    """Every replica upgrades on start; two at once on an empty database both come up, and
    0013's index is built once, valid (not dropped by the second as a failed build's)."""
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from hotline import db\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.01)\n"
        "db.upgrade(sys.argv[1])\n"
    )
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgres_url, str(go)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    time.sleep(3)  # both have imported hotline and wait for the start
    go.touch()
    errors = [r.communicate(timeout=120)[1] for r in replicas]
    assert [r.returncode for r in replicas] == [0, 0], errors
    assert db.current_revision(postgres_url) == db.head_revision()
    assert index_state(postgres_url) == (True, True, ["conversation_id", "message_id"])
