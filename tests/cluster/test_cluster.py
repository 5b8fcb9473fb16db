"""`hotline cluster` for real (`make cluster`): Debian's nginx in front of two app replicas and
two Rasa servers, on a fresh PostgreSQL database and Redis DB 9. Every request goes through
nginx; its one worker takes turns over the replicas, and each answer names its replica
(X-Hotline-Replica), so the tests show that what one replica did the other one sees."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect
from websockets.sync.connection import Connection

from hotline.cluster import READY_LINE, REPLICA_HEADER, Layout
from hotline.settings import PROJECT_ROOT, Settings
from speech.prompts import SHUTDOWN
from tests import signin
from tests.conftest import fresh_postgres, unavailable
from wechat.protocol import WechatConfig
from wechat.simulate import message_xml, open_reply, signed_request

pytestmark = pytest.mark.stack
# nginx's port (the layout takes the next 12 too) and the Redis DB: movable beside other runs
LAYOUT = Layout(int(os.environ.get("HOTLINE_TEST_CLUSTER_PORT", "18100")))
URL = f"http://127.0.0.1:{LAYOUT.base}"
REDIS_URL = os.environ.get("HOTLINE_TEST_CLUSTER_REDIS", "redis://127.0.0.1:6379/9")
WECHAT_TOKEN = "cluster-test-token"
PER_SENDER = 8  # chat turns a sender may send per window (HOTLINE_RATE_CHAT_PER_SENDER)
WINDOW = 86400  # a day: the test's turns never straddle two windows (see the rate-limit test)
PER_ADDRESS = 6  # chat turns per client address and window; loopback clients are not counted


@dataclass
class Cluster:
    proc: subprocess.Popen[bytes]
    database_url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} ({exc})")
    if not Path("/usr/sbin/nginx").exists():
        unavailable("Debian nginx (apt-get install nginx)")
    var = tmp_path_factory.mktemp("cluster-var")
    shared = redis.Redis.from_url(REDIS_URL)
    for key in shared.scan_iter("hotline:rate:*"):  # counts of an earlier run in this window
        shared.delete(key)
    with fresh_postgres() as database_url:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOTLINE_VAR_DIR": str(var),
               "HOTLINE_MODEL_DIR": str(Settings().model_dir),  # trained once per machine
               "HOTLINE_DATABASE_URL": database_url, "HOTLINE_REDIS_URL": REDIS_URL,
               "HOTLINE_WECHAT_TOKEN": WECHAT_TOKEN, "HOTLINE_SLA_SCAN_SECONDS": "0",
               "HOTLINE_RATE_CHAT_PER_SENDER": str(PER_SENDER),
               "HOTLINE_RATE_WINDOW_SECONDS": str(WINDOW),
               "HOTLINE_RATE_CHAT_PER_ADDRESS": str(PER_ADDRESS),
               "HOTLINE_HOST": "0.0.0.0",  # nginx also on this machine's own address
               "HOTLINE_WECHAT_REPLY_SECONDS": "4.9"}  # fmt: skip
        log = var / "cluster.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hotline.cli", "cluster", "--port", str(LAYOUT.base)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            )  # fmt: skip
        running = Cluster(proc, database_url, log)
        try:
            deadline = time.monotonic() + 1200  # a first run on a machine trains the bot
            while READY_LINE not in running.text():
                assert proc.poll() is None, running.text()[-4000:]
                assert time.monotonic() < deadline, running.text()[-4000:]
                time.sleep(1)
            # nginx marked the replicas down while they started (connection refused); one
            # answer from each puts them back in turn
            answered = set()
            while len(answered) < LAYOUT.replicas:
                answered.add(replica(httpx.get(f"{URL}/login", timeout=10)))
            yield running
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(120)


def replica(resp: httpx.Response) -> str:
    return resp.headers[REPLICA_HEADER]


def chat(sender: str, text: str) -> httpx.Response:
    turn = {"sender": sender, "text": text, "channel": "web"}
    return httpx.post(f"{URL}/api/v1/chat", json=turn, timeout=60)


def text_of(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    return "".join(m.get("text") or "" for m in resp.json()["messages"])


def next_to(other_than: str) -> None:
    """Make the next request through nginx go to the replica that is not `other_than`: its one
    worker takes the replicas in turn, so a request answered by `other_than` is enough."""
    while replica(httpx.get(f"{URL}/login", timeout=10)) != other_than:
        pass


def test_health_through_nginx_reports_the_shared_services(cluster: Cluster) -> None:
    healthy: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 300  # each replica loads the knowledge model in the background
    while len(healthy) < 2:
        resp = httpx.get(f"{URL}/health", timeout=30)
        if resp.status_code == 200:
            healthy[replica(resp)] = resp.json()["dependencies"]
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.5)
    assert set(healthy) == {"app-1", "app-2"}
    for deps in healthy.values():
        assert deps["database"]["backend"] == "postgresql"
        assert deps["redis"]["status"] == "ok"
        assert deps["rasa"]["status"] == "ok"  # through nginx's internal door
    assert httpx.post(f"{URL}/webhook", json={}).status_code == 404  # Rasa's door only


def test_a_complaint_form_continues_whichever_replica_takes_the_turn(cluster: Cluster) -> None:
    sender = f"form-{uuid.uuid4().hex[:8]}"
    steps = [
        ("我要反映一下", "具体是什么问题"),
        ("我们街上的路灯坏了一整排 晚上黑咕隆咚的 已经有老人摔跤了", "发生在哪里"),
        ("城北区北环路 青松社区东门那一段", "什么时候"),
        ("差不多半个月了", "怎么称呼"),
    ]
    served = []
    access_log = cluster.log.parent / "cluster" / "nginx" / "log" / "access.log"
    logged = access_log.stat().st_size
    for said, asked in steps:
        resp = chat(sender, said)
        assert asked in text_of(resp), (said, resp.json())
        served.append(replica(resp))
    # the form's state lives in Rasa's PostgreSQL tracker, not in a replica
    assert set(served) == {"app-1", "app-2"}, served
    # while both Rasa servers are up, the conversation's turns all went to one of them (nginx
    # hashes the app's conversation key), which kept its tracker between them
    with access_log.open() as log:
        log.seek(logged)
        turns = [line.split() for line in log if '"POST /webhooks/hotline/webhook"' in line]
    assert len(turns) == len(steps)
    assert len({fields[-2] for fields in turns}) == 1, turns  # $upstream_addr


def test_a_handoff_queued_on_one_replica_is_served_from_the_other(cluster: Cluster) -> None:
    sender = f"hand-{uuid.uuid4().hex[:8]}"
    operator = signin.bearer(cluster.database_url, "operator")
    status = {"status": "available"}
    ready = httpx.post(f"{URL}/api/v1/operators/me/status", headers=operator, json=status)
    assert ready.status_code == 200, ready.text
    stream = Stream(f"{URL}/api/v1/chat/{sender}/events?max_seconds=120")
    stream.wait_for(lambda events: events)  # subscribed: the first state has come

    asked = chat(sender, "我要找人工客服")
    assert asked.json()["state"] == "waiting_human", asked.json()

    seen_on = set()
    for _ in range(2):  # one listing from each replica
        listed = httpx.get(f"{URL}/api/v1/handoffs?status=pending", headers=operator)
        assert any(h["conversation_id"] == f"web:{sender}" for h in listed.json()["items"])
        seen_on.add(replica(listed))
    assert seen_on == {"app-1", "app-2"}
    [item] = [h for h in listed.json()["items"] if h["conversation_id"] == f"web:{sender}"]

    next_to(other_than=stream.replica)
    accepted = httpx.post(f"{URL}/api/v1/handoffs/{item['id']}/accept", headers=operator)
    assert accepted.status_code == 200, accepted.text
    next_to(other_than=stream.replica)
    words = "您好，我是话务员小王"
    sent = httpx.post(f"{URL}/api/v1/handoffs/{item['id']}/messages", headers=operator,
                      json={"text": words}, timeout=30)  # fmt: skip
    assert sent.status_code == 201, sent.text
    assert replica(sent) != stream.replica  # the reply was written on the other replica

    def got(events: list[tuple[str, dict[str, Any]]]) -> bool:
        return any(e.get("text") == words for _, e in events)

    assert got(stream.wait_for(got)), stream.events  # live, through nginx, across replicas


def test_wechat_retries_reaching_both_replicas_get_one_turn(cluster: Cluster) -> None:
    config = WechatConfig(WECHAT_TOKEN)
    openid = f"o{uuid.uuid4().hex[:20]}"
    xml = message_xml(openid, Content="你好", msg_id=int(time.time() * 1000))
    replies, served = [], []
    for _ in range(2):  # WeChat retries with the same MsgId when an answer is slow
        query, body = signed_request(config, xml)
        resp = httpx.post(f"{URL}/wechat", params=query, content=body, timeout=30,
                          headers={"Content-Type": "text/xml"})  # fmt: skip
        replies.append(open_reply(config, query, resp.status_code, resp.text))
        served.append(replica(resp))
    assert set(served) == {"app-1", "app-2"}
    assert [r.status for r in replies] == [200, 200]
    assert replies[0].text, replies[0].raw  # the bot's answer, passively
    assert replies[1].text in (None, replies[0].text)  # "success", or the same answer again

    def count(query: str) -> int:
        with psycopg.connect(cluster.database_url) as conn:
            row = conn.execute(query, (f"wechat:{openid}",)).fetchone()
        return int(row[0]) if row else 0

    assert count("SELECT count(*) FROM conversation_turns WHERE conversation_id = %s") == 1
    said = "SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'"
    assert count(said) == 1  # the bot heard the message once


def test_a_senders_rate_limit_counts_turns_on_every_replica(cluster: Cluster) -> None:
    sender = f"rate-{uuid.uuid4().hex[:8]}"
    if (left := WINDOW - time.time() % WINDOW) < 600:  # windows are fixed: wait for a new one
        time.sleep(left + 1)
    served = []
    for _ in range(PER_SENDER):
        resp = chat(sender, "你好")
        assert resp.status_code == 200, resp.text
        served.append(replica(resp))
    assert served.count("app-1") == served.count("app-2") == PER_SENDER // 2
    over = chat(sender, "你好")  # each replica has seen only half the limit
    assert over.status_code == 429
    assert int(over.headers["Retry-After"]) > 0
    assert "请求过于频繁" in over.json()["detail"]


def test_a_websocket_call_is_upgraded_through_nginx(cluster: Cluster) -> None:
    with ws_connect(f"ws://127.0.0.1:{LAYOUT.base}/voice/ws", open_timeout=30) as ws:
        ws.send(json.dumps({"type": "start", "sample_rate": 11025}))  # a rate no PBX uses
        answer = json.loads(ws.recv(timeout=30))
    assert answer["type"] == "error"  # the replica's own answer, over the upgraded connection
    assert answer["message"] == "sample_rate must be one of [8000, 16000]", answer


def test_the_address_limit_counts_the_citizens_address_not_one_they_claim(
    cluster: Cluster,
) -> None:
    own = _own_address()
    served = []
    for i in range(PER_ADDRESS):  # each turn claims another address and another sender
        resp = httpx.post(f"http://{own}:{LAYOUT.base}/api/v1/chat", timeout=60,
                          headers={"X-Forwarded-For": f"10.9.8.{i}"},
                          json={"sender": f"addr-{uuid.uuid4().hex[:8]}", "text": "你好",
                                "channel": "web"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        served.append(replica(resp))
    assert set(served) == {"app-1", "app-2"}
    over = httpx.post(f"http://{own}:{LAYOUT.base}/api/v1/chat", timeout=60,
                      json={"sender": "addr-last", "text": "你好", "channel": "web"})  # fmt: skip
    # the claimed addresses were not believed: the real one was counted, by both replicas
    assert over.status_code == 429


def _own_address() -> str:
    """This machine's address on its network (not loopback: loopback clients are not counted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # UDP: nothing is sent
        except OSError:
            pytest.skip("no network interface besides loopback")
        return str(sock.getsockname()[0])


def test_stopping_the_cluster_tells_a_live_call_then_stops_every_process(
    cluster: Cluster,
) -> None:
    """Last (it stops the cluster). A call through nginx when `hotline cluster` gets SIGTERM:
    the replica serving it tells the caller and transfers the call, through nginx, before the
    connection closes; then every process is gone. The replica's engines are the real ones."""
    with ws_connect(f"ws://127.0.0.1:{LAYOUT.base}/voice/ws", open_timeout=30,
                    max_size=None) as ws:  # fmt: skip
        ws.send(json.dumps({"type": "start", "sample_rate": 16000}))
        call = WsCall(ws)
        started = call.until(lambda: call.kinds.get("started"), seconds=180)  # engines load
        call.until(lambda: call.audio >= 16000 * 2)  # one second of the greeting heard
        heard = call.audio
        cluster.proc.send_signal(signal.SIGTERM)
        end = call.until(lambda: call.kinds.get("end"), seconds=60)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
        close_code = ws.close_code
    assert cluster.proc.wait(120) == 0
    assert "stopped" in cluster.text()
    assert end == {"type": "end", "call_id": started["call_id"], "outcome": "transfer",
                   "reason": "server_stop", "queue": "12345", "work_order": None}  # fmt: skip
    assert call.said[-1] == SHUTDOWN
    assert (call.audio - heard) / (2 * 16000) > 2.0  # the announcement, not just a cut line
    assert close_code == 1000
    with psycopg.connect(cluster.database_url) as conn:
        row = conn.execute("SELECT outcome, reason FROM call_outcomes WHERE call_id = %s",
                           (started["call_id"],)).fetchone()  # fmt: skip
    assert row == ("transfer", "server_stop")
    ports = [LAYOUT.base, *LAYOUT.app_ports, LAYOUT.internal_port, *LAYOUT.rasa_ports]
    listening = [port for port in ports if _listening(port)]
    assert listening == []


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class WsCall:
    """What a voice WS client received: bytes of audio, the last event of each kind, what the
    hotline said."""

    def __init__(self, ws: Connection) -> None:
        self.ws = ws
        self.audio = 0
        self.kinds: dict[str, dict[str, Any]] = {}
        self.said: list[str] = []

    def until(self, check: Callable[[], Any], seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while not (found := check()):
            message = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(message, bytes):
                self.audio += len(message)
                continue
            event = json.loads(message)
            self.kinds[event["type"]] = event
            if event["type"] == "bot":
                self.said.append(event["text"])
        return found


class Stream:
    """A citizen page's EventSource through nginx, read in a thread."""

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.replica = ""
        self._opened = threading.Event()
        threading.Thread(target=self._read, args=(url,), daemon=True).start()
        assert self._opened.wait(30), "the event stream did not open"

    def _read(self, url: str) -> None:
        name = ""
        with suppress(httpx.HTTPError), httpx.stream("GET", url, timeout=150) as resp:
            self.replica = replica(resp)
            self._opened.set()
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def wait_for(
        self, check: Callable[[list[tuple[str, dict[str, Any]]]], Any], seconds: float = 60
    ) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + seconds
        while not check(self.events) and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.events
