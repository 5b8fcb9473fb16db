"""kill -9 of one app replica during concurrent work-order submissions (issue 19).

REST (--orders): two app processes (uvicorn, as `hotline serve --only app` runs them) share one
fresh PostgreSQL database. CLIENTS threads submit orders over REST, each with its own
Idempotency-Key; a client alternates its first replica and, when a request fails (connection
refused or reset, a 5xx), retries the same body and key on the other one. When a third of the
orders are confirmed, replica A is killed with SIGKILL. Then the database is compared with what
the clients were told: every confirmed order must be there once (0 lost), no key or text may
have two orders (0 duplicates), and every submission must have been confirmed in the end.

Chat (--chats): the same two replicas in front of one real Rasa server (`hotline serve --only
rasa`, the cached model, its tracker store in the same database, its actions served by replica
B). CHAT_CLIENTS citizens each file a noise complaint through POST /api/v1/chat, answering the
work-order form (address, time, name, phone) and confirming the read-back, until the reply
tells them the order number. Every message carries its own message_id; a turn that fails is
sent again, same text and id, to the other replica. A is killed when a third of the
conversations are confirmed. Then: every number a citizen was told is an order of their
conversation (0 lost), no conversation has two orders and Rasa handled no message twice
(its tracker holds no more user messages than the citizen sent), and every conversation was
confirmed. --without-message-ids is the control: clients as they were before message_id.

    .venv/bin/python -m bench.faults_kill --orders 1000 --chats 300   # `make faults`

Short versions run in the test suite (tests/faults/test_replica_kill.py,
tests/faults/test_chat_replica_kill.py).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
import psycopg
from sqlalchemy import text

from hotline.db import engine_for
from hotline.serve import spawn
from hotline.settings import Settings
from tests import signin
from tests.faults.stack import App

PORT_A, PORT_B = 18561, 18562
CHAT_PORTS = (19601, 19602, 19603)  # chat: app A, app B, Rasa
CLIENTS = 8
CHAT_CLIENTS = 8  # about what one Rasa server on 2 cores keeps busy
PG_ADMIN = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database() -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards (others use the server)."""
    name = f"hotline_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        finally:
            engine_for.cache_clear()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Outcome:
    submitted: int = 0
    confirmed: dict[str, str] = field(default_factory=dict)  # key -> order number told
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what made a client retry
    killed_after: int = 0  # confirmations before the kill
    seconds: float = 0.0
    stored: int = 0  # orders in the database with one of the keys
    lost: list[str] = field(default_factory=list)  # confirmed, not in the database
    duplicates: int = 0  # orders beyond one per key or per text
    wrong: list[str] = field(default_factory=list)  # told a number that holds another request
    errors: list[str] = field(default_factory=list)  # a client that stopped (a 4xx, a hang)

    def line(self) -> str:
        return (
            f"{self.submitted} submitted, {len(self.confirmed)} confirmed, {self.stored} stored, "
            f"{len(self.lost)} lost, {self.duplicates} duplicates, {len(self.wrong)} mismatched; "
            f"A killed after {self.killed_after} confirmations; {self.retries} retries "
            f"({dict(self.failures)}); {self.seconds:.1f} s, "
            f"{self.submitted / self.seconds:.1f} orders/s"
            + (f"; client errors: {self.errors[:3]}" if self.errors else "")
        )


TOPICS = ("路灯不亮已经三天了", "下水道堵塞污水外溢", "夜里施工噪音扰民", "垃圾一周没人清运",
          "门口占道经营堵路", "小区停水没有通知", "电梯故障困人", "消防通道被车堵住")  # fmt: skip


def _body(n: int) -> dict[str, Any]:
    """A distinct complaint from a distinct citizen. No address: every order in one district
    would make each repeat check compare with all the earlier ones (workorders/repeats.py),
    which measures the repeat check, not the fault."""
    return {
        "channel": "api",
        "kind": "投诉",
        "request_text": f"压测工单{n:05d}：{TOPICS[n % len(TOPICS)]}",
        "citizen_phone": f"139{n:08d}",
    }


class WorkPool:
    """`threads` client threads taking numbered pieces of work (0 … n-1) until none is left."""

    def __init__(self, n: int, threads: int) -> None:
        self.work = list(range(n))
        self.threads = threads
        self.lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._client, args=(c,)) for c in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _next(self) -> int | None:
        with self.lock:
            return self.work.pop() if self.work else None

    def _client(self, c: int) -> None:
        raise NotImplementedError


class Clients(WorkPool):
    def __init__(self, urls: list[str], headers: dict[str, str], orders: int) -> None:
        super().__init__(orders, CLIENTS)
        self.urls, self.headers = urls, headers
        self.keys = {n: f"kill-{uuid.uuid4().hex}" for n in self.work}
        self.out = Outcome(submitted=orders)

    def confirmed(self) -> int:
        with self.lock:
            return len(self.out.confirmed)

    def _client(self, c: int) -> None:
        try:
            with httpx.Client(timeout=60) as http:
                while (n := self._next()) is not None:
                    self._submit(http, n, first=(n + c) % 2)
        except Exception as exc:  # reported with the numbers, never a silent short count
            with self.lock:
                self.out.errors.append(repr(exc)[:300])

    def _submit(self, http: httpx.Client, n: int, first: int) -> None:
        key, body = self.keys[n], _body(n)
        for attempt in range(200):
            url = self.urls[(first + attempt) % len(self.urls)]
            headers = {**self.headers, "Idempotency-Key": key}
            try:
                resp = http.post(f"{url}/api/v1/work-orders", json=body, headers=headers)
                why = f"HTTP {resp.status_code}" if resp.status_code >= 500 else ""
            except httpx.TransportError as exc:
                why = type(exc).__name__
            if not why:
                if resp.status_code != 201:
                    raise AssertionError(f"order {n}: {resp.status_code} {resp.text}")
                with self.lock:
                    self.out.confirmed[key] = resp.json()["order"]["number"]
                return
            with self.lock:
                self.out.retries += 1
                self.out.failures[why] += 1
            time.sleep(0.05 * min(attempt, 10))
        raise AssertionError(f"order {n} never confirmed")


def check(database_url: str, clients: Clients) -> None:
    """Compare the database with what the clients were told."""
    out = clients.out
    keys = list(clients.keys.values())
    query = text(
        "SELECT idempotency_key, number, request_text FROM work_orders "
        "WHERE request_text LIKE '压测工单%'"
    )
    with engine_for(database_url).connect() as conn:
        rows = conn.execute(query).all()
    by_key = Counter(r[0] for r in rows)
    by_text = Counter(r[2] for r in rows)
    number_text = {r[1]: r[2] for r in rows}
    out.stored = sum(1 for r in rows if r[0] in set(keys))
    out.duplicates = sum(c - 1 for c in by_key.values() if c > 1) + sum(
        c - 1 for c in by_text.values() if c > 1
    )
    texts = {k: _body(n)["request_text"] for n, k in clients.keys.items()}
    for key, number in out.confirmed.items():
        if number not in number_text:
            out.lost.append(number)
        elif number_text[number] != texts[key]:
            out.wrong.append(number)


def run(orders: int, var: Path) -> Outcome:
    """The whole scenario on a fresh PostgreSQL database; returns what happened."""
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database())
        # The embedding model loads in the background while the other replica starts. One after
        # the other: two replicas starting together on an empty database both import the
        # sample knowledge base and one fails (knowledge.service.import_sample_if_empty).
        settings = {"database_url": database, "knowledge_preload": "true"}
        a = App(PORT_A, var / "a", **settings)
        stack.callback(a.stop)
        b = App(PORT_B, var / "b", **settings)
        stack.callback(b.stop)
        headers = signin.bearer(database, "operator")
        clients = Clients([a.url, b.url], headers, orders)
        started = time.monotonic()
        runner = threading.Thread(target=clients.run)
        runner.start()
        while clients.confirmed() < orders // 3 and runner.is_alive():
            time.sleep(0.01)
        clients.out.killed_after = clients.confirmed()
        a.kill()  # kill -9: no shutdown, in-flight requests cut
        runner.join()
        clients.out.seconds = time.monotonic() - started
        check(database, clients)
        return clients.out


# --- chat ------------------------------------------------------------------------------------


@dataclass
class ChatStack:
    a: App
    b: App
    rasa_url: str
    database: str


@contextmanager
def chat_stack(
    var: Path, ports: tuple[int, int, int] = CHAT_PORTS, actions_port: int | None = None
) -> Iterator[ChatStack]:
    """Replicas A and B and one real Rasa server (its actions served by B, or by whatever
    listens on `actions_port`) on a fresh PostgreSQL database; yields once both replicas report
    every dependency healthy."""
    with ExitStack() as stack:
        database = stack.enter_context(scratch_database())
        rasa_url = f"http://127.0.0.1:{ports[2]}"
        rasa_env = {"HOTLINE_VAR_DIR": str(var / "rasa"), "HOTLINE_DATABASE_URL": database,
                    "HOTLINE_MODEL_DIR": str(Settings().model_dir),  # the cached model
                    "HOTLINE_RASA_HOST": "127.0.0.1", "HOTLINE_RASA_PORT": str(ports[2]),
                    "HOTLINE_HOST": "127.0.0.1", "HOTLINE_PORT": str(actions_port or ports[1]),
                    "HOTLINE_REDIS_URL": "", "HOTLINE_RASA_URL": ""}  # fmt: skip
        (var / "rasa").mkdir(parents=True, exist_ok=True)
        started: list[subprocess.Popen[bytes]] = []
        failed: list[BaseException] = []

        def start_rasa() -> None:  # while the apps start: Rasa loads its model meanwhile
            try:
                started.append(spawn(rasa_env, var / "rasa" / "serve.log", part="rasa"))
            except BaseException as exc:  # reported below, with the log
                failed.append(exc)

        rasa_thread = threading.Thread(target=start_rasa)
        rasa_thread.start()
        stack.callback(_stop_rasa, started)
        # a turn must reach Rasa: its timeout is not what is measured (a timed-out turn is
        # answered by the triage fallback, a plainer form of its own)
        settings = {"database_url": database, "knowledge_preload": "true",
                    "rasa_url": rasa_url, "rasa_timeout": "60"}  # fmt: skip
        a = App(ports[0], var / "a", **settings)
        stack.callback(a.stop)
        b = App(ports[1], var / "b", **settings)
        stack.callback(b.stop)
        rasa_thread.join()
        if failed:
            raise failed[0]
        for replica in (a, b):
            _wait_healthy(replica)
        yield ChatStack(a, b, rasa_url, database)


def _stop_rasa(started: list[subprocess.Popen[bytes]]) -> None:
    for proc in started:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_healthy(replica: App) -> None:
    """Knowledge model loaded and Rasa reachable: the first turns are not the slow ones."""
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{replica.url}/health", timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{replica.url} not healthy:\n{replica.text()[-3000:]}"
        time.sleep(0.5)


NUMBER = re.compile(r"工单号是(\d{8}-\d{4})")
NOISES = ("楼下烧烤店天天半夜吵得睡不着", "隔壁工地每天晚上十二点还在施工噪音太大",
          "楼上邻居每天半夜蹦迪噪音扰民", "小区门口的广场舞音响声音太大吵得睡不着")  # fmt: skip
DISTRICTS = ("城东区", "城西区", "城南区", "城北区")


def citizen_answer(n: int, replies: list[dict[str, Any]]) -> str | None:
    """What citizen `n` says to the bot's latest replies: the form's next field, 确认 to the
    read-back; None once told the order number."""
    said = "".join(m.get("text") or "" for m in replies)
    buttons = [b.get("title") for m in replies for b in m.get("buttons") or []]
    asked = replies[-1].get("text") or "" if replies else ""
    if NUMBER.search(said):
        return None
    if "确认提交" in buttons:
        return "确认"
    if "地址" in asked or "哪里" in asked:
        return f"{DISTRICTS[n % len(DISTRICTS)]}和平路{n + 1}号"
    if "什么时候" in asked or "时间" in asked:
        return "最近一个月每天晚上"
    if "称呼" in asked or "姓名" in asked or "名字" in asked:
        return "王先生"
    if "电话" in asked or "号码" in asked or "联系" in asked:
        return f"139{n:08d}"
    raise AssertionError(f"citizen {n}: unexpected reply {said!r}")


@dataclass
class ChatOutcome:
    chats: int = 0
    turns: int = 0
    told: dict[str, str] = field(default_factory=dict)  # conversation -> order number told
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # what made a citizen retry
    # retried turns B answered with their first handling's answer, found in the turn log
    # (A logged the turn, then died) or in Rasa's tracker (A died before logging it)
    from_log: int = 0
    from_tracker: int = 0
    killed_after: int = 0
    seconds: float = 0.0
    stored: int = 0  # orders of the conversations in the database
    lost: list[str] = field(default_factory=list)  # told, not an order of that conversation
    duplicates: int = 0  # orders beyond one per conversation
    heard_twice: int = 0  # message ids Rasa logged more than once
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.chats} conversations, {self.turns} turns, {len(self.told)} confirmed, "
            f"{self.stored} stored, {len(self.lost)} lost, {self.duplicates} duplicates, "
            f"{self.heard_twice} messages handled twice; A killed after {self.killed_after} "
            f"confirmations; {self.retries} retried turns ({dict(self.failures)}), "
            f"answered again from the turn log {self.from_log}, from Rasa's tracker "
            f"{self.from_tracker}; {self.seconds:.1f} s, "
            f"{self.turns / self.seconds:.1f} turns/s"
            + (f"; client errors: {self.errors[:3]}" if self.errors else "")
        )


class Citizens(WorkPool):
    """CHAT_CLIENTS threads, each holding conversations one after the other."""

    def __init__(self, urls: list[str], chats: int, tag: str, message_ids: bool = True) -> None:
        super().__init__(chats, CHAT_CLIENTS)
        self.urls, self.tag, self.message_ids = urls, tag, message_ids
        self.senders = {n: f"kill-{tag}-{n:04d}" for n in self.work}
        self.sent: Counter[str] = Counter()  # messages per conversation (retries not counted)
        self.out = ChatOutcome(chats=chats)

    def confirmed(self) -> int:
        with self.lock:
            return len(self.out.told)

    def _client(self, c: int) -> None:
        with httpx.Client(timeout=120) as http:
            while (n := self._next()) is not None:
                try:
                    self._converse(http, n, first=(n + c) % 2)
                except Exception as exc:  # reported with the numbers, never a short count
                    with self.lock:
                        self.out.errors.append(repr(exc)[:300])

    def _converse(self, http: httpx.Client, n: int, first: int) -> None:
        sender = self.senders[n]
        said: str | None = NOISES[n % len(NOISES)]
        for turn in range(12):
            assert said is not None
            replies = self._turn(http, sender, said, first + turn)
            said = citizen_answer(n, replies)
            if said is None:
                number = NUMBER.search("".join(m.get("text") or "" for m in replies))
                assert number is not None
                with self.lock:
                    self.out.told[f"web:{sender}"] = number[1]
                return
        raise AssertionError(f"citizen {n} was never told an order number")

    def _turn(self, http: httpx.Client, sender: str, said: str, first: int) -> list[dict]:
        """One message, sent until a replica answers it; its replies."""
        body = {"sender": sender, "text": said, "channel": "web"}
        if self.message_ids:
            body["message_id"] = uuid.uuid4().hex
        with self.lock:
            self.out.turns += 1
            self.sent[f"web:{sender}"] += 1
        for attempt in range(200):
            url = self.urls[(first + attempt) % len(self.urls)]
            try:
                resp = http.post(f"{url}/api/v1/chat", json=body)
                why = f"HTTP {resp.status_code}" if resp.status_code >= 500 else ""
            except httpx.TransportError as exc:
                why = type(exc).__name__
            if not why:
                if resp.status_code != 200:
                    raise AssertionError(f"{sender}: {resp.status_code} {resp.text}")
                replies: list[dict] = resp.json()["messages"]
                return replies
            with self.lock:
                self.out.retries += 1
                self.out.failures[why] += 1
            time.sleep(0.05 * min(attempt, 10))
        raise AssertionError(f"{sender}: {said!r} never answered")


def check_chats(stack: ChatStack, citizens: Citizens) -> None:
    """Compare the database (orders, Rasa's tracker) with what the citizens were told."""
    out = citizens.out
    conversations = [f"web:{s}" for s in citizens.senders.values()]
    with engine_for(stack.database).connect() as conn:
        orders = conn.execute(
            text("SELECT conversation_id, number FROM work_orders WHERE conversation_id = ANY(:c)"),
            {"c": conversations},
        ).all()
        heard = conn.execute(
            text("SELECT sender_id, count(*) FROM events WHERE type_name = 'user' "
                 "AND sender_id = ANY(:c) GROUP BY sender_id"), {"c": conversations},
        ).all()  # fmt: skip
    per_conversation = Counter(r[0] for r in orders)
    out.stored = len(orders)
    out.duplicates = sum(c - 1 for c in per_conversation.values() if c > 1)
    # Rasa logs each message it handles as one user event: more than the citizen sent is a
    # message handled twice (with or without message ids)
    out.heard_twice = sum(max(0, n - citizens.sent[c]) for c, n in heard)
    of = {number: conversation for conversation, number in orders}
    out.lost = [n for conv, n in out.told.items() if of.get(n) != conv]


def _answered_again(log: str, tag: str, where: str) -> int:
    """Turns of this run's citizens B's log says it answered again from `where`."""
    return len(re.findall(rf"of web:kill-{tag}-\d+ answered again from {where}", log))


def run_chats(chats: int, stack: ChatStack, message_ids: bool = True) -> ChatOutcome:
    """`chats` conversations on `stack`, A killed after a third are confirmed. Without
    `message_ids`, the clients of before message_id existed (a control: what the fix fixes)."""
    citizens = Citizens([stack.a.url, stack.b.url], chats, uuid.uuid4().hex[:6], message_ids)
    started = time.monotonic()
    runner = threading.Thread(target=citizens.run)
    runner.start()
    while citizens.confirmed() < chats // 3 and runner.is_alive():
        time.sleep(0.01)
    citizens.out.killed_after = citizens.confirmed()
    stack.a.kill()  # kill -9: no shutdown, in-flight turns cut
    runner.join()
    citizens.out.seconds = time.monotonic() - started
    check_chats(stack, citizens)
    log = stack.b.text()
    citizens.out.from_log = _answered_again(log, citizens.tag, "the log")
    citizens.out.from_tracker = _answered_again(log, citizens.tag, "Rasa's tracker")
    return citizens.out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1000, help="REST submissions (0: none)")
    parser.add_argument("--chats", type=int, default=0, help="chat conversations (0: none)")
    parser.add_argument("--without-message-ids", action="store_true",
                        help="chat clients send no message_id (the control run)")  # fmt: skip
    args = parser.parse_args()
    failed = False
    if args.orders:
        with TemporaryDirectory(prefix="faults-kill-") as tmp:
            out = run(args.orders, Path(tmp))
        print("REST:", out.line())
        failed |= bool(out.lost or out.duplicates or out.wrong or out.errors
                       or len(out.confirmed) != out.submitted)  # fmt: skip
    if args.chats:
        with TemporaryDirectory(prefix="faults-chat-") as tmp, chat_stack(Path(tmp)) as stack:
            said = run_chats(args.chats, stack, not args.without_message_ids)
        print("chat:", said.line())
        failed |= bool(said.lost or said.duplicates or said.heard_twice or said.errors
                       or len(said.told) != said.chats)  # fmt: skip
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
