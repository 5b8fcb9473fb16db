"""PostgreSQL going away under load: a real app process reaches its database through a TCP
proxy the test cuts and restores. While it is cut every request fails fast with 503, a clear
message and Retry-After (never a 500); once restored the same requests succeed on retry, and
every turn answered 200 is in the conversation log."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from hotline.conversations import turns_of
from tests.conftest import fresh_postgres
from tests.faults.proxy import Proxy
from tests.faults.stack import app
from tests.standin_rasa import StandInRasa

APP_PORT, RASA_PORT, PROXY_PORT = 18521, 18522, 18523
CLIENTS, TURNS = 4, 15


class Load:
    """CLIENTS citizens chatting at once; each turn is retried on 503 until it is answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: Counter[int] = Counter()
        self.refusals: list[httpx.Response] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._citizen, args=(n,)) for n in range(CLIENTS)]

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self.threads:
            thread.join(180)

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses[status]

    def _citizen(self, n: int) -> None:
        with httpx.Client(timeout=60) as http:
            for turn in range(TURNS):
                body = {"sender": f"db-{n}", "text": f"第{turn}句", "channel": "web"}
                for _ in range(600):  # retried until answered; the test fails on a hang only
                    resp = http.post(f"{self.url}/api/v1/chat", json=body)
                    with self.lock:
                        self.statuses[resp.status_code] += 1
                        if resp.status_code == 503:
                            self.refusals.append(resp)
                    if resp.status_code != 503:
                        break
                    time.sleep(0.1)  # a real client waits Retry-After; the test is impatient


def wait_until(check: object, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_a_cut_database_gives_fast_503s_and_retries_succeed(tmp_path: Path) -> None:
    with fresh_postgres() as direct:
        proxy = Proxy(PROXY_PORT, int(direct.rsplit(":", 1)[1].split("/")[0])).start()
        database = direct.replace(direct.rsplit("@", 1)[1].split("/")[0],
                                  f"127.0.0.1:{PROXY_PORT}")  # fmt: skip
        rasa = StandInRasa(RASA_PORT).start()
        try:
            with app(APP_PORT, tmp_path, database_url=database, knowledge_preload="false",
                     rasa_url=f"http://127.0.0.1:{RASA_PORT}") as running:  # fmt: skip
                load = Load(running.url).start()
                wait_until(lambda: load.count(200) >= 10)
                proxy.cut()  # PostgreSQL restarts / the network to it fails, mid-load
                wait_until(lambda: load.count(503) >= 2 * CLIENTS)
                health = httpx.get(f"{running.url}/health", timeout=30)
                assert health.status_code == 503
                assert health.json()["dependencies"]["database"]["status"] == "down"
                proxy.restore()
                load.join()
                assert httpx.get(f"{running.url}/health", timeout=30).json()["dependencies"][
                    "database"]["status"] == "ok"  # fmt: skip
                log = running.text()
        finally:
            rasa.stop()
            proxy.cut()
        assert set(load.statuses) == {200, 503}, load.statuses  # never a 500
        assert load.count(200) == CLIENTS * TURNS
        refusal = load.refusals[0]
        assert refusal.headers["Retry-After"] == "5"
        assert refusal.json()["message"] == "系统暂时繁忙，请稍后重试。"
        assert "Traceback" not in log
        for n in range(CLIENTS):  # every answered turn is stored
            said = {t.user_text for t in turns_of(direct, f"web:db-{n}")}
            assert said == {f"第{turn}句" for turn in range(TURNS)}
