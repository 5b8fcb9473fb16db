"""Real processes for the fault tests: an app replica (uvicorn, as `hotline serve --only app`
runs it) and a Rasa stand-in that can go away and come back on the same port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from hotline.settings import PROJECT_ROOT


class App:
    """One app process on `port`; `stop` signals it, `kill` is kill -9."""

    def __init__(self, port: int, var: Path, **settings: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = var / f"app-{port}.log"
        var.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HOTLINE_VAR_DIR": str(var),
               "HOTLINE_SLA_SCAN_SECONDS": "0", "HOTLINE_DATABASE_URL": "",
               **{f"HOTLINE_{k.upper()}": v for k, v in settings.items()}}  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "gateway.app:main_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + 180
        while True:
            assert self.proc.poll() is None, self.text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, f"the app did not start:\n{self.text()[-3000:]}"
            time.sleep(0.2)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@contextmanager
def app(port: int, var: Path, **settings: str) -> Iterator[App]:
    started = App(port, var, **settings)
    try:
        yield started
    finally:
        started.stop()


class StandInRasa:
    """Rasa's webhook and /status as the app sees them; every turn is answered "机器人：…"."""

    def __init__(self, port: int, delay: float = 0.0) -> None:
        self.port = port
        self.delay = delay  # seconds each turn takes (a busy bot)
        self.turns: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> StandInRasa:
        rasa = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._json({"model_id": "stand-in"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                rasa.turns.append(body.get("message", ""))
                time.sleep(rasa.delay)
                self._json({"messages": [{"text": f"机器人：{body.get('message')}"}],
                            "intent": {"name": "chitchat", "confidence": 0.9}})  # fmt: skip

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
