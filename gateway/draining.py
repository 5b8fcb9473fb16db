"""A stopping app finishes its work with its port still open.

Rasa runs its custom actions by calling this app back on `/webhook` (through nginx's internal
door in the cluster), in the middle of the chat and voice turns this app is relaying. Closing
the port first, as uvicorn's own shutdown does, made every turn in flight lose its action (the
citizen got the fallback, a caller the "bot unavailable" transfer). So when the app stops
(gateway/app_server.py): new requests get 503 with Retry-After (the web chat retries with the
same message id; nginx's other replica takes the next one), while Rasa's action calls, the
health check and the event streams (which are not work to finish: their pages reconnect) still
pass; once the requests in flight are done, or the graceful time is up, the port is closed.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

STOPPING = "服务正在重启，请稍后重试。"
ALWAYS_OPEN = ("/webhook", "/health")  # Rasa's action calls; the balancer's health check


class Drain:
    """The app's requests in flight, and whether it is stopping (`app.state.drain`; the voice
    WebSocket reads `stopping` too)."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.busy += 1
        self._idle.clear()

    def end(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self._idle.set()

    async def idle(self, timeout: float | None) -> bool:
        """Wait until no counted request is in flight; False when `timeout` s passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


def counted(scope: Scope) -> bool:
    """Work to finish before the port closes: every HTTP request but Rasa's action calls (they
    serve the counted ones), the health check and the event streams (they never end)."""
    path: str = scope["path"]
    return path not in ALWAYS_OPEN and not path.endswith("/events")


class Draining:
    """ASGI middleware: counts the requests in flight; refuses new ones once stopping."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not counted(scope):
            await self.app(scope, receive, send)
            return
        if self.drain.stopping.is_set():
            refuse = JSONResponse({"detail": STOPPING}, 503, headers={"Retry-After": "1"})
            await refuse(scope, receive, send)
            return
        self.drain.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.end()
