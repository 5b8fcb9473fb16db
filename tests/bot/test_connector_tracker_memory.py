"""Trackers kept between a conversation's turns (bot/hotline_connector.py, _keep_saved_trackers):
two Rasa tracker stores on one database, as two Rasa servers on the cluster's PostgreSQL (here
SQLite, as one `hotline serve`), in Rasa's environment. A conversation's next turn gets the
tracker it saved without reading or counting its events again; a turn another server handled
meanwhile, a turn that failed before saving and a save that failed are never hidden by a kept
tracker."""

from __future__ import annotations

from pathlib import Path

from hotline.bot import BOT_DIR
from tests.bot.rasa_env import run_in_rasa

_SCRIPT = r"""
import asyncio, json, sys
import sqlalchemy as sa
import hotline_connector as connector
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered

args = json.load(sys.stdin)
domain = Domain.load(args["domain"])
reads, counts, failing, connects = [], [], [], []

def server():
    sql = SQLTrackerStore(domain, dialect="sqlite", db=args["db"])
    store = FailSafeTrackerStore(sql)
    connector._keep_saved_trackers(store)  # pools the connections: a new engine to watch
    @sa.event.listens_for(sql.engine, "connect")
    def opened(*_):
        connects.append(1)
    @sa.event.listens_for(sql.engine, "before_cursor_execute")
    def watch(conn, cursor, statement, *rest):
        head = statement.lstrip().upper()
        if head.startswith("SELECT COUNT"):
            counts.append(statement)  # saving Rasa's way counts what is stored already
        elif head.startswith("SELECT") and "DATA" in head:
            reads.append(statement)  # the events themselves
        elif head.startswith("INSERT") and failing:
            failing.pop()
            raise RuntimeError("the database went away")
    return store

def said(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]

async def turn(store, sender, text):
    tracker = await store.get_or_create_tracker(sender)
    tracker.update(UserUttered(text, intent={"name": "consult", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    return tracker

async def main():
    a, b = server(), server()
    out = {}
    await turn(a, "c1", "你好")
    await turn(a, "c1", "社保卡丢了怎么补")
    reads.clear()
    connects.clear()
    counts.clear()
    third = await turn(a, "c1", "要带什么")
    out["reads_on_a_kept_turn"] = len(reads)
    out["counts_on_a_kept_turn"] = len(counts)
    out["connections_opened_on_a_kept_turn"] = len(connects)
    with sa.create_engine("sqlite:///" + args["db"]).connect() as plain:
        out["journal_mode"] = plain.exec_driver_sql("PRAGMA journal_mode").scalar()
    out["a_third"] = said(third)
    # the next turn reaches the other server, then the first again
    await turn(b, "c1", "去哪里办")
    fifth = await turn(a, "c1", "谢谢")
    out["a_after_b"] = said(fifth)
    # a turn that fails before saving: its half-done tracker is not handed out again
    broken = await a.get_or_create_tracker("c1")
    broken.update(UserUttered("never saved", intent={"name": "consult", "confidence": 1.0}))
    out["after_failed_turn"] = said(await a.retrieve("c1"))
    # a save that fails falls back to memory (Rasa's fail-safe store): the next turn reads
    # the database, as without kept trackers, and saves onto what the database holds
    await turn(a, "c2", "你好")
    failing.append(True)
    await turn(a, "c2", "公积金怎么取")  # its save fails
    await turn(a, "c2", "谢谢")
    out["c2_stored"] = said(await server().retrieve("c2"))
    print(json.dumps(out, ensure_ascii=False))

asyncio.run(main())
"""


def test_a_kept_tracker_is_used_only_while_it_is_the_whole_conversation(tmp_path: Path) -> None:
    out = run_in_rasa(
        _SCRIPT, {"domain": str(BOT_DIR / "domain.yml"), "db": str(tmp_path / "rasa.db")}
    )
    assert out["reads_on_a_kept_turn"] == 0  # nothing of the conversation was read again
    assert out["counts_on_a_kept_turn"] == 0  # nor counted to save it
    # Rasa's SQLite store opened a connection for every query and synced every commit in full
    # with the server's loop blocked: its connections are pooled and its commits written ahead
    assert out["connections_opened_on_a_kept_turn"] == 0
    assert out["journal_mode"] == "wal"
    assert out["a_third"] == ["你好", "社保卡丢了怎么补", "要带什么"]
    assert out["a_after_b"] == ["你好", "社保卡丢了怎么补", "要带什么", "去哪里办", "谢谢"]
    assert out["after_failed_turn"] == out["a_after_b"]
    # Rasa's own outcome: the turn whose save failed is not in the database
    assert out["c2_stored"] == ["你好", "谢谢"]


_OVERLAPS = r"""
import asyncio, json, sys
import hotline_connector as connector
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered

args = json.load(sys.stdin)
domain = Domain.load(args["domain"])

def server():
    store = FailSafeTrackerStore(SQLTrackerStore(domain, dialect="sqlite", db=args["db"]))
    connector._keep_saved_trackers(store)
    return store

def said(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)] if tracker else []

def user(text):
    return UserUttered(text, intent={"name": "consult", "confidence": 1.0})

async def stored(sender):
    return said(await SQLTrackerStore(domain, dialect="sqlite", db=args["db"]).retrieve(sender))

async def main():
    out = {}
    a = server()
    sql = a._tracker_store
    # The store cannot be read once: Rasa starts a new tracker, saves it, and the turn is then
    # not saved (answered 503); the tracker with the unsaved message is not handed out later.
    for text in ("你好", "社保卡丢了怎么补"):
        tracker = await a.get_or_create_tracker("c1")
        tracker.update(user(text))
        await a.save(tracker)
    read = sql.retrieve
    async def unreadable(sender):
        raise RuntimeError("the connection went stale")
    sql.retrieve = unreadable
    lost = await a.get_or_create_tracker("c1")
    sql.retrieve = read
    lost.update(user("never saved"))
    out["after_unreadable"] = said(await a.retrieve("c1"))
    out["c1_stored"] = await stored("c1")
    # Two turns of one conversation overlap (a retry after the lock expired): whichever
    # saves last, the next turn gets everything the store holds.
    for text in ("你好", "公积金怎么取"):
        tracker = await a.get_or_create_tracker("c2")
        tracker.update(user(text))
        await a.save(tracker)
    slow = await a.retrieve("c2")  # the kept tracker
    retry = await a.retrieve("c2")  # read from the store
    retry.update(user("要带什么（重发）"))
    await a.save(retry)
    slow.update(user("要带什么"))
    await a.save(slow)
    out["after_overlap"] = said(await a.retrieve("c2"))
    out["c2_stored"] = await stored("c2")
    print(json.dumps(out, ensure_ascii=False))

asyncio.run(main())
"""


def test_a_tracker_is_not_kept_past_an_unsaved_turn_or_an_overlapping_one(tmp_path: Path) -> None:
    out = run_in_rasa(
        _OVERLAPS, {"domain": str(BOT_DIR / "domain.yml"), "db": str(tmp_path / "rasa.db")}
    )
    assert out["c1_stored"] == ["你好", "社保卡丢了怎么补"]
    assert out["after_unreadable"] == out["c1_stored"]  # not the unsaved "never saved"
    # the later save is Rasa's own (it counts what is stored and adds only what is beyond)
    assert out["c2_stored"] == ["你好", "公积金怎么取", "要带什么（重发）"]
    assert out["after_overlap"] == out["c2_stored"]  # not the later saver's own view
