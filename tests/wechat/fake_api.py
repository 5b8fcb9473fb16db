"""A local fake of the WeChat API on the loopback interface: the access token, media download
and the customer-service send, recording what was sent. `invalid_once` makes the next send fail with
40001 (a token WeChat no longer accepts) as after another process refreshed it; `refuse` makes
every send to an openid fail with an errcode (45015: the 48-hour window is over)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.json_http import JsonHandler


@dataclass
class FakeWechat:
    url: str = ""
    tokens_issued: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused_tokens: set[str] = field(default_factory=set)
    invalid_once: bool = False
    expires_in: int = 7200
    media: dict[str, bytes] = field(default_factory=dict)  # media_id → the file (voice: AMR)
    media_types: dict[str, str] = field(default_factory=dict)  # media_id → Content-Type
    refuse: dict[str, int] = field(default_factory=dict)  # openid → errcode of every send (45015)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts_to(self, openid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == openid]


@contextmanager
def fake_wechat(appid: str = "wx-test-app", secret: str = "wx-test-secret") -> Iterator[FakeWechat]:
    fake = FakeWechat()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/cgi-bin/media/get":
                if q.get("access_token") not in fake.tokens_issued:
                    return self.send_json({"errcode": 40001, "errmsg": "invalid credential"})
                if q.get("media_id") not in fake.media:
                    return self.send_json({"errcode": 40007, "errmsg": "invalid media_id"})
                data = fake.media[q["media_id"]]
                self.send_response(200)
                self.send_header("Content-Type", fake.media_types.get(q["media_id"], "audio/amr"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            if parts.path != "/cgi-bin/token":
                return self.send_json({"errcode": 404, "errmsg": "no such api"})
            if q.get("appid") != appid or q.get("secret") != secret:
                return self.send_json({"errcode": 40013, "errmsg": "invalid appid"})
            with fake.lock:
                token = f"token-{len(fake.tokens_issued) + 1}"
                fake.tokens_issued.append(token)
            self.send_json({"access_token": token, "expires_in": fake.expires_in})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            token = parse_qs(parts.query).get("access_token", [""])[-1]
            body = self.read_json()
            if parts.path != "/cgi-bin/message/custom/send":
                return self.send_json({"errcode": 404, "errmsg": "no such api"})
            with fake.lock:
                if fake.invalid_once:
                    fake.invalid_once = False
                    fake.refused_tokens.add(token)
                if token not in fake.tokens_issued or token in fake.refused_tokens:
                    return self.send_json({"errcode": 40001, "errmsg": "invalid credential"})
                if (code := fake.refuse.get(body.get("touser", ""))) is not None:
                    return self.send_json({"errcode": code, "errmsg": "refused"})
                fake.sent.append(body)
            self.send_json({"errcode": 0, "errmsg": "ok"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
