"""An HTTP door between Rasa and the apps' action webhook, as nginx's internal door is in
`hotline cluster`: each action call goes to a live replica, and a call whose replica dies after
the request was sent is answered 502 (nginx never sends a POST twice). The test arms it: the
next `action_submit_work_order` call is handed to a hook that sends it to the replica to kill
and decides when to kill it; every other call, and every call after that one, goes to the
surviving replica (nginx skips a replica that refuses connections), or, while `down` is set,
is answered 502 (nginx with no live replica left)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

SUBMIT = "action_submit_work_order"
# the hook gets the call's body and returns the status and body the door answers Rasa with
Hook = Callable[[bytes], tuple[int, bytes]]
BAD_GATEWAY = (502, b'{"error": "bad gateway"}')


def forward(url: str, body: bytes) -> tuple[int, bytes]:
    resp = httpx.post(f"{url}/webhook", content=body, timeout=300,
                      headers={"Content-Type": "application/json"})  # fmt: skip
    return resp.status_code, resp.content


class ActionDoor:
    def __init__(self, port: int, survivor: str) -> None:
        self.survivor = survivor
        self.calls: list[str] = []  # next_action of every call, in order
        self.down = False
        self._hook: Hook | None = None
        self._lock = threading.Lock()
        door = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = door.handle(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except ConnectionError:
                    pass  # Rasa gave the turn up (its relaying replica died)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def arm(self, hook: Hook) -> None:
        """The next submit call goes to `hook` (once)."""
        with self._lock:
            self._hook = hook

    def handle(self, body: bytes) -> tuple[int, bytes]:
        name = str(json.loads(body).get("next_action"))
        with self._lock:
            self.calls.append(name)
            hook = self._hook if name == SUBMIT else None
            if hook is not None:
                self._hook = None
        if hook is not None:
            return hook(body)
        if self.down:
            return BAD_GATEWAY
        try:
            return forward(self.survivor, body)
        except httpx.HTTPError:
            return BAD_GATEWAY

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
