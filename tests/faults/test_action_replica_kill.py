"""An app replica killed (SIGKILL) while it runs the Rasa custom action that stores the work
order of a confirmed form (issue 19): once before the order is stored (the replica waits for
the work_orders table, which the test holds locked), once after (the order is stored, the
action's answer not yet back at Rasa). Rasa calls its actions through a door like nginx's
internal door (tests/faults/action_door.py), which then gives the calls to the surviving
replica A. The citizen's 确认 is relayed by A (the citizen waits for the answer) or by the
killed replica itself (the request is cut; the client sends it again to A with the same
message_id, as the web chat page does). Either way the citizen is told the number of the one
order of the conversation, and 确认 said once more stores nothing. With no replica left to run
the action, A's triage fallback stores the order and tells its number.

Before the fix (bot/hotline_connector.py), relayed by A: the 确认 was answered with no message
at all, the order stored but never told (after) or not stored (before), and Rasa's tracker
kept the confirmed draft with its form closed."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.faults_kill import PG_ADMIN, ChatStack, chat_stack
from tests.conftest import unavailable
from tests.faults.action_door import BAD_GATEWAY, SUBMIT, ActionDoor, forward
from tests.faults.stack import App
from tests.faults.test_chat_replica_kill import at_the_read_back, facts, say, told

PORTS = (19701, 19702, 19703)  # app A (survives), app B (the first to die), Rasa
DOOR_PORT = 19704  # Rasa's action endpoint
SPARE_PORT = 19705  # the next replica to die, once B is dead


@pytest.fixture(scope="module")
def door() -> Iterator[ActionDoor]:
    started = ActionDoor(DOOR_PORT, f"http://127.0.0.1:{PORTS[0]}")
    yield started
    started.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, door: ActionDoor) -> Iterator[ChatStack]:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN} ({exc})")
    var = tmp_path_factory.mktemp("action-kill")
    with chat_stack(var, PORTS, actions_port=DOOR_PORT) as running:
        yield running


@pytest.fixture
def victim(stack: ChatStack, tmp_path: Path) -> Iterator[App]:
    """A live replica other than A: B, or a new one once B is dead (it loads the knowledge
    model when the submit first needs it)."""
    if stack.b.proc.poll() is None:
        yield stack.b
        return
    spare = App(SPARE_PORT, tmp_path / "spare", database_url=stack.database,
                knowledge_preload="false", rasa_url=stack.rasa_url, rasa_timeout="60")  # fmt: skip
    try:
        yield spare
    finally:
        spare.stop()


def orders_of(stack: ChatStack, sender: str) -> list[str]:
    return facts(stack, sender)[0]


def kill_before_storing(stack: ChatStack, victim: App, body: bytes) -> None:
    """The victim runs the submit and waits for the work_orders table, held locked: killed
    there, then the table is let go. Nothing was stored."""
    with psycopg.connect(stack.database) as holder:
        holder.execute("LOCK TABLE work_orders IN EXCLUSIVE MODE")  # reads pass, inserts wait
        call = threading.Thread(target=_send_to_dying, args=(victim, body))
        call.start()
        deadline = time.monotonic() + 120
        while not _waiting_on_a_lock(stack.database):
            assert time.monotonic() < deadline, "the submit never reached the insert"
            time.sleep(0.05)
        victim.kill()
        call.join(60)
        assert not call.is_alive()
        holder.rollback()


def _waiting_on_a_lock(database: str) -> bool:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()").fetchone()  # fmt: skip
    return bool(row and row[0])


def _send_to_dying(victim: App, body: bytes) -> None:
    with contextlib.suppress(httpx.HTTPError):  # killed: no answer
        forward(victim.url, body)


def kill_during_submit(
    stack: ChatStack, door: ActionDoor, victim: App, sender: str, moment: str, no_survivor: bool
) -> tuple[threading.Event, list[list[str]]]:
    """Arm the door: the next submit call is killed at `moment`; what was stored then."""
    stored_when_killed: list[list[str]] = []
    killed = threading.Event()

    def hook(body: bytes) -> tuple[int, bytes]:
        if moment == "before storing":
            kill_before_storing(stack, victim, body)
        else:
            status, _ = forward(victim.url, body)  # the action ran: the order is stored
            assert status == 200
            victim.kill()  # before its answer reached Rasa
        stored_when_killed.append(orders_of(stack, sender))
        door.down = no_survivor
        killed.set()
        return BAD_GATEWAY  # nginx: the replica died after the request was sent

    door.arm(hook)
    return killed, stored_when_killed


def confirm(stack: ChatStack, victim: App, sender: str, relay: str, mid: str) -> dict[str, Any]:
    if relay == "A":
        return say(stack.a.url, sender, "确认", mid)
    body = {"sender": sender, "text": "确认", "channel": "web", "message_id": mid}
    with pytest.raises(httpx.TransportError):  # the relaying replica died: no answer
        httpx.post(f"{victim.url}/api/v1/chat", json=body, timeout=120)
    return say(stack.a.url, sender, "确认", mid)  # the client's retry, on A


@pytest.mark.parametrize(
    ("moment", "relay"),
    [("before storing", "A"), ("after storing", "A"),
     ("before storing", "victim"), ("after storing", "victim")],
)  # fmt: skip
def test_the_replica_running_the_submit_killed_the_citizen_is_told_the_one_order(
    stack: ChatStack, door: ActionDoor, victim: App, moment: str, relay: str
) -> None:
    sender = at_the_read_back(stack.a.url, 5)
    killed, stored = kill_during_submit(stack, door, victim, sender, moment, no_survivor=False)
    calls = len(door.calls)
    mid = uuid.uuid4().hex
    answer = confirm(stack, victim, sender, relay, mid)
    assert killed.wait(60) and victim.proc.poll() is not None  # killed in the submit
    assert stored == [[] if moment == "before storing" else orders_of(stack, sender)]
    number = told(answer)  # the citizen is told the number
    assert orders_of(stack, sender) == [number]  # one order, the one told
    assert door.calls[calls:].count(SUBMIT) >= 2  # the killed call and the one A answered
    assert say(stack.a.url, sender, "确认", mid) == answer  # sent again: the same answer
    once_more = say(stack.a.url, sender, "确认", uuid.uuid4().hex)  # 确认 said again
    assert "工单号" not in "".join(m["text"] for m in once_more["messages"]), once_more
    assert orders_of(stack, sender) == [number]  # no duplicate


@pytest.mark.parametrize("moment", ["before storing", "after storing"])
def test_no_replica_left_to_run_the_submit_the_fallback_tells_the_one_order(
    stack: ChatStack, door: ActionDoor, victim: App, moment: str
) -> None:
    """Every call is answered 502 after the kill: Rasa gives up on the action after its
    retries and the turn is answered by A's triage fallback, which stores the draft of the
    read-back (the same order when it was stored); Rasa's form is closed afterwards."""
    sender = at_the_read_back(stack.a.url, 7)
    killed, _ = kill_during_submit(stack, door, victim, sender, moment, no_survivor=True)
    try:
        mid = uuid.uuid4().hex
        answer = say(stack.a.url, sender, "确认", mid)
        assert killed.is_set()
    finally:
        door.down = False
    number = told(answer)
    assert orders_of(stack, sender) == [number]
    assert say(stack.a.url, sender, "确认", mid) == answer  # from A's log
    # A skips Rasa for HOTLINE_RASA_RETRY_SECONDS after the failed turn, or until /health
    assert httpx.get(f"{stack.a.url}/health", timeout=30).status_code == 200
    say(stack.a.url, sender, "你好", uuid.uuid4().hex)  # Rasa's turn: its form closed first
    tracker = httpx.get(f"{stack.rasa_url}/conversations/web:{sender}/tracker",
                        timeout=30).json()  # fmt: skip
    assert tracker["slots"].get("wo_confirm") is None and tracker["slots"].get("wo_what") is None
    once_more = say(stack.a.url, sender, "确认", uuid.uuid4().hex)
    assert "工单号" not in "".join(m["text"] for m in once_more["messages"]), once_more
    assert orders_of(stack, sender) == [number]  # no duplicate
