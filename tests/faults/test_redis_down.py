"""Redis going away: a real app process reaches Redis through a proxy the test cuts. Requests
that publish live events (an operator's presence) and chat turns go on answering 200 with
per-process events, the log says so once (not once per request), /health says degraded, and
when Redis is back the replica reconnects by itself."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import redis

from tests import signin
from tests.conftest import unavailable
from tests.faults.proxy import Proxy
from tests.faults.stack import app
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT, PROXY_PORT = 18541, 18542, 18543


def redis_state(url: str) -> str:
    return httpx.get(f"{url}/health", timeout=30).json()["dependencies"]["redis"]["status"]


def wait_for_redis(url: str, state: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while redis_state(url) != state:
        assert time.monotonic() < deadline, f"redis never {state}"
        time.sleep(0.2)


def test_without_redis_each_replica_serves_its_own_events(tmp_path: Path) -> None:
    try:
        redis.Redis(port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis on 6379 ({exc})")
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    proxy = Proxy(PROXY_PORT, 6379).start()
    rasa = StandInRasa(RASA_PORT).start()
    try:
        with app(APP_PORT, tmp_path, database_url=db, knowledge_preload="false",
                 redis_url=f"redis://127.0.0.1:{PROXY_PORT}/9",
                 rasa_url=f"http://127.0.0.1:{RASA_PORT}") as running:  # fmt: skip
            url = running.url
            wait_for_redis(url, "ok")
            operator = signin.bearer(db, "operator")
            proxy.cut()
            statuses: list[int] = []
            for n in range(10):
                presence = {"status": "available" if n % 2 else "away"}
                status = f"{url}/api/v1/operators/me/status"
                said = httpx.post(status, headers=operator, json=presence, timeout=30)
                turn = {"sender": "r-1", "text": f"第{n}句", "channel": "web"}
                chat = httpx.post(f"{url}/api/v1/chat", json=turn, timeout=30)
                statuses += [said.status_code, chat.status_code]
            health = httpx.get(f"{url}/health", timeout=30)
            assert health.json()["status"] == "degraded"
            assert health.json()["dependencies"]["redis"]["status"] == "down"
            proxy.restore()
            wait_for_redis(url, "ok")
            log = running.text()
    finally:
        rasa.stop()
        proxy.cut()
    assert statuses == [200] * 20
    assert log.count("Redis unavailable") == 1, log[-3000:]  # a warning, not a flood
    assert "Redis is back" in log
    assert "Traceback" not in log
