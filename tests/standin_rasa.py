"""A stand-in Rasa server on a local port, as the app sees Rasa: the hotline connector's webhook
(`/webhooks/hotline/webhook`), the tracker-events API (pause/resume) and `/status`. It can stop
and start again on the same port (Rasa going away and coming back).

By default every turn is answered "机器人：<text>" after `delay` seconds (a busy bot); a test
that needs more passes `answer`, which returns the connector's reply body for a turn (or its
status and body, as the connector's 409 for a message id used for another text)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from tests.json_http import JsonHandler

Answer = Callable[[dict[str, Any]], dict[str, Any] | tuple[int, dict[str, Any]]]


def echo(body: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{"text": f"机器人：{body.get('message')}"}],
            "intent": {"name": "chitchat", "confidence": 0.9}}  # fmt: skip


class StandInRasa:
    """`turns`: the texts the app sent, in order; `events`: (conversation, event) posted to the
    tracker-events API."""

    def __init__(self, port: int, delay: float = 0.0, answer: Answer = echo) -> None:
        self.port = port
        self.delay = delay
        self.answer = answer
        self.turns: list[str] = []
        self.events: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> StandInRasa:
        rasa = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                self.send_json({"model_id": "stand-in"})

            def do_POST(self) -> None:
                body = self.read_json()
                if self.path.endswith("/tracker/events"):  # /conversations/{id}/tracker/events
                    # Rasa takes one event or a list of them
                    for event in body if isinstance(body, list) else [body]:
                        rasa.events.append((self.path.split("/")[2], event["event"]))
                    return self.send_json({})
                rasa.turns.append(body.get("message", ""))
                time.sleep(rasa.delay)
                reply = rasa.answer(body)
                status, reply = reply if isinstance(reply, tuple) else (200, reply)
                return self.send_json(reply, status)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def stand_in_rasa(port: int, delay: float = 0.0, answer: Answer = echo) -> Iterator[StandInRasa]:
    rasa = StandInRasa(port, delay, answer).start()
    try:
        yield rasa
    finally:
        rasa.stop()
