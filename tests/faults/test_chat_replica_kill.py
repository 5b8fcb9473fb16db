"""Chat turns across a dying app replica: two app replicas (A, B) in front of one real Rasa
server on a fresh PostgreSQL database (bench/faults_kill.py's chat stack). A message sent again
with its message_id, after its answer was lost, gets the first answer and is handled once; then
A is killed with SIGKILL while 20 citizens file complaints, and every citizen is told an order
number that exists, one order per conversation (`make faults` runs more). And Rasa going away in
the middle of a complaint form: the triage fallback finishes the same draft, and Rasa, back,
does not ask for it again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.faults_kill import NUMBER, PG_ADMIN, ChatStack, chat_stack, citizen_answer, run_chats
from tests.conftest import unavailable
from tests.faults.proxy import Proxy
from tests.faults.stack import App

CHATS = 20
C_PORT, PROXY_PORT = 19631, 19632  # a third replica, reaching Rasa through a proxy


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatStack]:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN} ({exc})")
    with chat_stack(tmp_path_factory.mktemp("chat-kill")) as running:
        yield running


def say(url: str, sender: str, text: str, message_id: str) -> dict[str, Any]:
    body = {"sender": sender, "text": text, "channel": "web", "message_id": message_id}
    resp = httpx.post(f"{url}/api/v1/chat", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    reply: dict[str, Any] = resp.json()
    return reply


def at_the_read_back(url: str, n: int) -> str:
    """A new citizen who has filled the form and is asked to confirm; their sender id."""
    sender = f"retry-{uuid.uuid4().hex[:8]}"
    said = "楼下烧烤店天天半夜吵得睡不着"
    while said != "确认":
        said = citizen_answer(n, say(url, sender, said, uuid.uuid4().hex)["messages"]) or ""
    return sender


def told(reply: dict[str, Any]) -> str:
    found = NUMBER.search("".join(m["text"] for m in reply["messages"]))
    assert found, reply
    return found[1]


def facts(stack: ChatStack, sender: str) -> tuple[list[str], list[str | None], int]:
    """The conversation's order numbers, the message ids Rasa heard, the turns logged."""
    conversation = f"web:{sender}"
    with psycopg.connect(stack.database) as conn:
        orders = conn.execute("SELECT number FROM work_orders WHERE conversation_id = %s",
                              (conversation,)).fetchall()  # fmt: skip
        heard = conn.execute("SELECT data FROM events WHERE sender_id = %s AND type_name = "
                             "'user' ORDER BY id", (conversation,)).fetchall()  # fmt: skip
        row = conn.execute("SELECT count(*) FROM conversation_turns WHERE conversation_id = %s",
                           (conversation,)).fetchone()  # fmt: skip
    ids = [json.loads(h[0]).get("message_id") for h in heard]
    return [o[0] for o in orders], ids, int(row[0]) if row else 0


def test_a_confirmation_rasa_handled_but_nobody_answered_is_answered_when_sent_again(
    stack: ChatStack,
) -> None:
    """Replica A relayed 确认 to Rasa, Rasa stored the order and answered, and A died before
    logging or answering: the client's retry on B gets the order number, nothing runs twice."""
    sender = at_the_read_back(stack.b.url, 1)
    confirm = uuid.uuid4().hex
    relayed = {"sender": f"web:{sender}", "message": "确认", "channel": "web", "metadata": {},
               "message_id": confirm}  # fmt: skip
    lost = httpx.post(f"{stack.rasa_url}/webhooks/hotline/webhook", json=relayed, timeout=120)
    assert lost.status_code == 200, lost.text
    number = told(lost.json())  # what A never passed on
    again = say(stack.b.url, sender, "确认", confirm)
    assert told(again) == number
    orders, ids, logged = facts(stack, sender)
    assert orders == [number]
    assert ids.count(confirm) == 1  # Rasa heard the confirmation once
    assert logged == len(ids)  # every message logged once, the confirmation by B
    assert say(stack.b.url, sender, "确认", confirm) == again  # and again, from the log


def test_an_id_rasa_handled_sent_again_with_another_text_is_a_409_and_handles_nothing(
    stack: ChatStack,
) -> None:
    """Rasa handled 确认 (the order is stored), A died before logging it, and the client sends
    取消 with the same id: not a retry of 确认 (whose answer it would get) but the 409 the app
    gives for an id it logged with another text. Rasa hears nothing more; the real retry of 确认
    still gets the order number."""
    sender = at_the_read_back(stack.b.url, 3)
    confirm = uuid.uuid4().hex
    relayed = {"sender": f"web:{sender}", "message": "确认", "channel": "web", "metadata": {},
               "message_id": confirm}  # fmt: skip
    lost = httpx.post(f"{stack.rasa_url}/webhooks/hotline/webhook", json=relayed, timeout=120)
    assert lost.status_code == 200, lost.text
    before = facts(stack, sender)
    body = {"sender": sender, "text": "取消", "channel": "web", "message_id": confirm}
    reused = httpx.post(f"{stack.b.url}/api/v1/chat", json=body, timeout=120)
    assert reused.status_code == 409, reused.text
    assert reused.json()["detail"] == (
        f"message_id {confirm} was already used for another message of this conversation; "
        "send a new id with a new message"
    )  # word for word the 409 of an id found in the app's log (tests/gateway)
    assert facts(stack, sender) == before  # nothing handled, nothing logged
    assert told(say(stack.b.url, sender, "确认", confirm)) == told(lost.json())
    assert facts(stack, sender)[0] == [told(lost.json())]


def test_the_same_message_on_both_replicas_at_once_is_handled_once(stack: ChatStack) -> None:
    """A retry that arrives while the first handling is still running on the other replica
    waits for it (Rasa's lock on the conversation) and gets its answer."""
    sender = at_the_read_back(stack.b.url, 2)
    confirm = uuid.uuid4().hex
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda url: say(url, sender, "确认", confirm),
                             (stack.a.url, stack.b.url)))  # fmt: skip
    assert told(both[0]) == told(both[1])
    assert both[0]["messages"] == both[1]["messages"]
    orders, ids, logged = facts(stack, sender)
    assert orders == [told(both[0])]
    assert ids.count(confirm) == 1
    assert logged == len(ids)  # the turn logged once, though two replicas finished it


def test_rasa_gone_mid_form_the_fallback_finishes_the_draft_and_rasa_does_not_ask_again(
    stack: ChatStack, tmp_path: Path
) -> None:
    """A third replica reaches Rasa through a proxy the test cuts after the citizen gave the
    problem and the address to Rasa's form: the fallback asks for what is still missing (not
    the problem or the address again), stores the order with the address Rasa was told, and
    when Rasa is back it is out of the form (its tracker's form closed, the draft emptied)."""
    proxy = Proxy(PROXY_PORT, int(stack.rasa_url.rsplit(":", 1)[1])).start()
    c = App(C_PORT, tmp_path / "c", database_url=stack.database, knowledge_preload="false",
            rasa_url=f"http://127.0.0.1:{PROXY_PORT}", rasa_timeout="60",
            rasa_retry_seconds="0")  # fmt: skip
    try:
        sender = f"gone-{uuid.uuid4().hex[:8]}"
        first = say(c.url, sender, "楼下烧烤店天天半夜吵得睡不着", uuid.uuid4().hex)
        assert "地址" in first["messages"][-1]["text"], first  # Rasa's form asks where
        where = "江北区幸福路8号"
        asked = say(c.url, sender, where, uuid.uuid4().hex)["messages"][-1]["text"]
        assert "什么时候" in asked, asked
        proxy.cut()
        asked_next = []
        for said in ("昨天半夜", "张先生", "13912345678"):
            reply = say(c.url, sender, said, uuid.uuid4().hex)
            asked_next.append(reply["messages"][-1]["text"])
        assert "称呼" in asked_next[0] and "电话" in asked_next[1], asked_next
        assert where in asked_next[2] and "烧烤" in asked_next[2], asked_next  # the read-back
        number = told(say(c.url, sender, "确认", uuid.uuid4().hex))
        with psycopg.connect(stack.database) as conn:
            row = conn.execute("SELECT address, citizen_name FROM work_orders WHERE number = %s",
                               (number,)).fetchone()  # fmt: skip
        assert row == (where, "张先生")
        proxy.restore()
        back = say(c.url, sender, "你好", uuid.uuid4().hex)
        assert not any(w in m["text"] for m in back["messages"] for w in ("地址", "电话", "称呼"))
        tracker = httpx.get(f"{stack.rasa_url}/conversations/web:{sender}/tracker",
                            timeout=30).json()  # fmt: skip
        assert not (tracker.get("active_loop") or {}).get("name"), tracker.get("active_loop")
        assert tracker["slots"].get("wo_where") is None
        assert facts(stack, sender)[0] == [number]  # one order
    finally:
        c.stop()
        proxy.cut()


def test_killing_a_replica_during_chats_loses_and_doubles_no_order(stack: ChatStack) -> None:
    out = run_chats(CHATS, stack)  # kills A: the last test of the module
    print(out.line())  # shown with -s
    assert out.errors == [], out.line()
    assert out.killed_after < out.chats  # the kill came while citizens were filing
    assert len(out.told) == out.chats, out.line()  # every citizen was told a number
    assert out.lost == [], out.line()
    assert out.duplicates == 0 and out.heard_twice == 0, out.line()
    assert out.stored == out.chats, out.line()
